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
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfnas.supernets.differentiable import DifferentiableSupernet

keras = tf.keras


class ArchitectureSearchModel(keras.Model):
    """Common parts: the wrapped supernet, the two optimizers, decay, clipping, metrics."""

    method = "base"

    def __init__(self, supernet: DifferentiableSupernet, arch_optimizer: keras.optimizers.Optimizer,
                 weight_decay: float = 3e-4, arch_weight_decay: float = 1e-3, grad_clip: float | None = 5.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.supernet = supernet
        self.arch_optimizer = arch_optimizer
        self.weight_decay = float(weight_decay)
        self.arch_weight_decay = float(arch_weight_decay)
        self.grad_clip = grad_clip
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        # autograph off: the supernet's Python control flow is static structure, and converting
        # it took about a third of the tracing time of the DARTS supernet
        self._forward_backward = tf.function(self._loss_and_gradients, autograph=False)

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
    def _loss_and_gradients(self, x, y):
        net = self.supernet
        with tf.GradientTape() as tape:
            logits = net(x, training=True)
            loss = self.loss_fn(y, logits)
        w_grads, a_grads = tape.gradient(loss, [net.weight_variables, net.arch_variables])
        return loss, logits, w_grads, a_grads

    # --- updates ------------------------------------------------------------------------------
    def apply_weight_gradients(self, grads) -> None:
        variables = self.supernet.weight_variables
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
        if self.grad_clip:
            grads, _ = tf.clip_by_global_norm(grads, self.grad_clip)
        if self.weight_decay:
            grads = [g + self.weight_decay * v for g, v in zip(grads, variables)]
        self.optimizer.apply_gradients(zip(grads, variables))

    def apply_arch_gradients(self, grads) -> None:
        variables = self.supernet.arch_variables
        if self.arch_weight_decay:
            grads = [g + self.arch_weight_decay * v for g, v in zip(grads, variables)]
        self.arch_optimizer.apply_gradients(zip(grads, variables))

    def _report(self, loss, y, logits) -> dict[str, Any]:
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(y, logits)
        return {m.name: m.result() for m in (self.loss_tracker, self.accuracy_tracker)}

    def test_step(self, data):
        x, y = data
        logits = self.supernet(x, training=False)
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
    decay), with xi the current weight learning rate (where the next SGD step would go, before
    clipping, as in DARTS' unrolled model) and the Hessian-vector product by central finite
    differences with
    epsilon = 0.01 / ||dL_val/dw'||.
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
        lr = self.optimizer.learning_rate
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            return tf.cast(lr(self.optimizer.iterations), tf.float32)
        return tf.cast(lr, tf.float32)

    def _velocity(self, variable: tf.Variable):
        momentums = getattr(self.optimizer, "momentums", None)
        if not momentums:
            return None
        return momentums[self.optimizer._index_dict[self.optimizer._var_key(variable)]]

    def _unrolled_arch_gradients(self, x_train, y_train, x_val, y_val):
        weights = self.supernet.weight_variables
        saved = [tf.identity(v) for v in weights]
        xi = self._current_lr()
        # virtual step w' = w - xi * (momentum term + g + decay * w), as DARTS' unrolled model
        # (which, unlike the real weight step, does not clip the gradient)
        _, _, g_train, _ = self._forward_backward(x_train, y_train)
        g_train = [tf.zeros_like(v) if g is None else g for g, v in zip(g_train, weights)]
        for v, g, w0 in zip(weights, g_train, saved):
            step = -xi * (g + self.weight_decay * w0)
            velocity = self._velocity(v)
            if velocity is not None:
                step += self.optimizer.momentum * velocity
            v.assign(w0 + step)
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
