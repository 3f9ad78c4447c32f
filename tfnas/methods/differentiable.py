"""Differentiable search methods as Keras models whose train_step is the method.

- ``SingleLevelSearch`` (Single-DARTS, Hou & Jin 2021): one batch, one tape; the weights and
  the architecture are updated together from the same gradients, each by its own optimizer.
- ``BilevelSearch`` (DARTS, Liu et al. 2019): an architecture step on a validation batch
  (first order: gradient at the current weights; second order: at the weights after one virtual
  SGD step, with the finite-difference Hessian-vector product), then a weight step on a
  training batch.

Both wrap a DifferentiableSupernet, so ``model.fit`` drives them and Keras callbacks
(TensorBoard, checkpoints, NaN guards) and tf.distribute work unchanged. Weight decay is the
coupled L2 of the PyTorch references (added to the gradient) and is applied to network weights
and architecture variables with separate coefficients; the weight gradient is clipped to a
global norm before decay, as DARTS does.

One traced function computes loss and gradients for a batch and is reused by every pass of a
step (architecture, weight, virtual and finite-difference passes): tracing the supernet once
instead of up to five times keeps graph building short; unused gradients are pruned when the
function is inlined.

Under a tf.distribute strategy (``--distribution=mirrored|multi_worker``) each replica's loss is
weighted by its share of the global batch and every gradient is summed over the replicas before it
is clipped, decayed or used for the virtual step (``tfnas.supernets.replicas``), so a step is the
one-device step on the global batch; the architecture optimizer's slots are mirrored like the
weights'. The one traced pass is then inlined into the replica's step instead of being its own
tf.function: tf.distribute cannot all-reduce (synchronised BN) inside a nested function.

Mixed precision (``tfnas.training.precision``): build the supernet and this model under the
policy; logits are cast to float32 before the loss, and under ``mixed_float16`` the loss is
scaled by the weight optimizer's dynamic loss scale (a LossScaleOptimizer, as ``compile`` wraps
it) and both gradients unscaled; a step with non-finite gradients is skipped by both optimizers.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfnas.errors import ConfigError
from tfnas.supernets import replicas
from tfnas.supernets.differentiable import DifferentiableSupernet
from tfnas.training.precision import float32_logits, inner_optimizer, loss_scale_optimizer, scaled, unscaled

keras = tf.keras


class ArchitectureSearchModel(keras.Model):
    """Common parts: the wrapped supernet, the two optimizers, decay, clipping, metrics."""

    method = "base"

    def __init__(self, supernet: DifferentiableSupernet, arch_optimizer: keras.optimizers.Optimizer,
                 weight_decay: float = 3e-4, arch_weight_decay: float = 1e-3, grad_clip: float | None = 5.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.supernet = supernet
        self.arch_optimizer = loss_scale_optimizer(arch_optimizer)  # under mixed_float16: skips non-finite steps
        self.weight_decay = float(weight_decay)
        self.arch_weight_decay = float(arch_weight_decay)
        self.grad_clip = grad_clip
        # per-example losses, averaged in loss_fn: Keras refuses a batch-reducing loss object under a strategy
        self.per_example_loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=keras.losses.Reduction.NONE)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        # autograph off: the supernet's Python control flow is static structure, and converting
        # it took about a third of the tracing time of the DARTS supernet
        self._traced_pass = tf.function(self._loss_and_gradients, autograph=False)

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def call(self, x, training=False):
        return self.supernet(x, training=training)

    def build_optimizers(self) -> None:
        """Create optimizer slots up front so a restored checkpoint can fill them."""
        self.optimizer.build(self.supernet.weight_variables)
        self.arch_optimizer.build(self.supernet.arch_variables)

    # --- one pass ----------------------------------------------------------------------------
    def _forward_backward(self, x, y):
        """(loss, logits, weight gradients, architecture gradients) of one batch, summed over replicas.

        ``loss`` is this replica's mean loss; the gradients are those of the global batch's mean loss.
        """
        if replicas.in_multi_replica_step():  # no nested tf.function around all-reduces; no autograph either
            loss, logits, w_grads, a_grads = tf.autograph.experimental.do_not_convert(self._loss_and_gradients)(
                x, y, replicas.batch_share(x))
        else:
            loss, logits, w_grads, a_grads = self._traced_pass(x, y)
        w_grads, a_grads = self._split(replicas.sum_over_replicas(list(w_grads) + list(a_grads)))
        return loss, logits, w_grads, a_grads

    def _split(self, grads):
        n = len(self.supernet.weight_variables)
        return grads[:n], grads[n:]

    def _loss_and_gradients(self, x, y, share=1.0):
        net = self.supernet
        with tf.GradientTape() as tape:
            logits = float32_logits(net(x, training=True))
            loss = self.training_loss(x, y, logits)
            scaled_loss = scaled(self.optimizer, loss if isinstance(share, float) else loss * share)
        w_grads, a_grads = tape.gradient(scaled_loss, [net.weight_variables, net.arch_variables])
        return loss, logits, unscaled(self.optimizer, w_grads), unscaled(self.optimizer, a_grads)

    def loss_fn(self, y, logits):
        """Mean cross-entropy over the examples given (this replica's)."""
        return tf.reduce_mean(self.per_example_loss(y, logits))

    def training_loss(self, x, y, logits):
        """The loss both optimizers minimise, the mean over this replica's examples (float32
        logits); methods add terms (distillation)."""
        return self.loss_fn(y, logits)

    # --- updates (gradients already summed over replicas) --------------------------------------
    def apply_weight_gradients(self, grads) -> None:
        variables = self.supernet.weight_variables
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
        if self.grad_clip:
            grads, _ = tf.clip_by_global_norm(grads, self.grad_clip)
        if self.weight_decay:
            grads = [g + self.weight_decay * v for g, v in zip(grads, variables)]
        self.optimizer.apply_gradients(zip(grads, variables), skip_gradients_aggregation=True)

    def apply_arch_gradients(self, grads) -> None:
        variables = self.supernet.arch_variables
        if self.arch_weight_decay:
            grads = [g + self.arch_weight_decay * v for g, v in zip(grads, variables)]
        self.arch_optimizer.apply_gradients(zip(grads, variables), skip_gradients_aggregation=True)

    def _report(self, loss, y, logits) -> dict[str, Any]:
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(y, logits)
        return {m.name: m.result() for m in (self.loss_tracker, self.accuracy_tracker)}

    def test_step(self, data):
        x, y = data
        # autograph off here too (see _traced_pass): converted, the validation forward of a 3-cell BATS
        # supernet took ~7-10 CPU s to trace and run first, unconverted ~5 s, with the same results
        forward = tf.autograph.experimental.do_not_convert(self.supernet)
        logits = float32_logits(forward(x, training=False))
        return self._report(self.loss_fn(y, logits), y, logits)

    def genotype(self):
        return self.supernet.genotype()


class SingleLevelSearch(ArchitectureSearchModel):
    """Single-DARTS: weights and architecture updated together from the same batch and tape."""

    method = "single_darts"

    def train_step(self, data):
        x, y = data
        loss, logits, w_grads, a_grads = self._forward_backward(x, y)
        self.apply_weight_gradients(w_grads)
        self.apply_arch_gradients(a_grads)
        return self._report(loss, y, logits)


class BilevelSearch(ArchitectureSearchModel):
    """DARTS: architecture step on a validation batch, then weight step on a training batch.

    Data: ((x_train, y_train), (x_val, y_val)) per step. ``order`` 1 uses the gradient at the
    current weights; ``order`` 2 the unrolled gradient at w' = w - xi * (momentum term + g +
    decay), with xi the current weight learning rate (where the weight optimizer's next step would
    go, before clipping, as in DARTS' unrolled model: ``virtual_step``) and the Hessian-vector
    product by central finite differences with epsilon = 0.01 / ||dL_val/dw'||.
    """

    method = "darts"

    def __init__(self, supernet: DifferentiableSupernet, arch_optimizer: keras.optimizers.Optimizer,
                 order: int = 1, finite_difference_scale: float = 0.01, **kwargs):
        super().__init__(supernet, arch_optimizer, **kwargs)
        if order not in (1, 2):
            raise ValueError(f"DARTS order must be 1 or 2, got {order}")
        self.order = order
        self.finite_difference_scale = finite_difference_scale
        self.val_loss_tracker = keras.metrics.Mean(name="arch_loss")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker, self.val_loss_tracker]

    def train_step(self, data):
        (x_train, y_train), (x_val, y_val) = data
        if self.order == 1:
            val_loss, _, _, a_grads = self._forward_backward(x_val, y_val)
        else:
            val_loss, a_grads = self._unrolled_arch_gradients(x_train, y_train, x_val, y_val)
        self.apply_arch_gradients(a_grads)
        self.val_loss_tracker.update_state(val_loss)
        loss, logits, w_grads, _ = self._forward_backward(x_train, y_train)
        self.apply_weight_gradients(w_grads)
        return {**self._report(loss, y_train, logits), "arch_loss": self.val_loss_tracker.result()}

    def _current_lr(self) -> tf.Tensor:
        optimizer = inner_optimizer(self.optimizer)
        lr = optimizer.learning_rate
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            return tf.cast(lr(optimizer.iterations), tf.float32)
        return tf.cast(lr, tf.float32)

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        if self.order == 2:
            self._restorable_optimizer()  # refuse an unusable weight optimizer before any work

    def _restorable_optimizer(self) -> keras.optimizers.Optimizer:
        optimizer = inner_optimizer(self.optimizer)
        if not isinstance(optimizer, keras.optimizers.Optimizer):  # legacy optimizers keep slots elsewhere
            raise ConfigError(f"second-order DARTS needs a tf.keras (non-legacy) weight optimizer whose state it can "
                              f"save and restore around the virtual step; got {type(optimizer).__name__}")
        return optimizer

    def virtual_step(self, grads) -> None:
        """Move the weights to w' = where the weight optimizer's next step on ``grads`` + decay takes them.

        DARTS' unrolled model: w' = w - xi * (momentum term + g + decay * w), the next SGD step
        (unlike the real weight step, without gradient clipping). Rather than re-deriving it from
        the optimizer's private slot attributes (an earlier version silently dropped the momentum
        term when they were missing), this applies the optimizer itself and then restores its
        state (slots, iteration count), so w' is the real next step by construction, for any
        tf.keras optimizer. The caller restores the weights afterwards.
        """
        optimizer = self._restorable_optimizer()
        state = list(optimizer.variables)  # iteration count and slots
        variables = self.supernet.weight_variables
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
        if self.weight_decay:
            grads = [g + self.weight_decay * v for g, v in zip(grads, variables)]
        saved_state = [tf.identity(v) for v in state]
        with tf.control_dependencies(saved_state):
            optimizer.apply_gradients(zip(grads, variables), skip_gradients_aggregation=True)
        with tf.control_dependencies([tf.identity(v) for v in variables]):
            for v, value in zip(state, saved_state):
                v.assign(value)

    @tf.autograph.experimental.do_not_convert  # static Python structure; converting it is only cost
    def _unrolled_arch_gradients(self, x_train, y_train, x_val, y_val):
        weights = self.supernet.weight_variables
        saved = [tf.identity(v) for v in weights]
        xi = self._current_lr()
        _, _, g_train, _ = self._forward_backward(x_train, y_train)
        with tf.control_dependencies(saved):
            self.virtual_step(g_train)
        val_loss, _, g_w_prime, a_grads = self._forward_backward(x_val, y_val)
        g_w_prime = [tf.zeros_like(v) if g is None else g for g, v in zip(g_w_prime, weights)]
        for v, w0 in zip(weights, saved):
            v.assign(w0)
        hvp = self.finite_difference_hvp(x_train, y_train, g_w_prime)
        return val_loss, [ga - xi * h for ga, h in zip(a_grads, hvp)]

    def finite_difference_hvp(self, x, y, vector):
        """d/dalpha (dL/dw . vector) at the current weights, by central differences (DARTS eq. 8).

        epsilon = finite_difference_scale / ||vector||; the weights are restored afterwards.
        """
        weights = self.supernet.weight_variables
        saved = [tf.identity(v) for v in weights]
        eps = self.finite_difference_scale / (tf.linalg.global_norm(vector) + 1e-12)
        for v, w0, d in zip(weights, saved, vector):
            v.assign(w0 + eps * d)
        _, _, _, a_plus = self._forward_backward(x, y)
        for v, w0, d in zip(weights, saved, vector):
            v.assign(w0 - eps * d)
        _, _, _, a_minus = self._forward_backward(x, y)
        for v, w0 in zip(weights, saved):
            v.assign(w0)
        return [(p - m) / (2.0 * eps) for p, m in zip(a_plus, a_minus)]


METHODS = {"single_darts": SingleLevelSearch, "darts": BilevelSearch}
