"""The generic path-sampling supernet core: one option per choice per step, trained alone.

Single-path one-shot supernets (SPOS / HURRICANE: one op per layer; MANAS: one op per DARTS
edge; ViTAS: one sub-transformer) share one mechanism, and it lives here, knowing no space:

* a *path* is one int32 option index per choice; ``ChoiceLayer`` runs the chosen candidate layer
  (``tf.switch_case``), so untaken candidates cost no compute and get no gradient;
* ``sample_uniform_path`` / ``sample_categorical_path`` draw a path with stateless RNG from
  (seed, step): every replica of a distributed run draws the same path, and a resumed run draws
  the paths an uninterrupted one would;
* ``PathSamplingSupernet`` is the keras.Model whose ``train_step`` trains one path per step (a
  subclass implements ``forward`` and says which variables each option owns), with BN
  recalibration of a fixed path (``recalibrate_bn``), scoring one that leaves the supernet as it
  was (``score_path``) and evaluation of a fixed path
  (``evaluate_path``);
* ``PathSGD`` updates an option's variables only when it is on the path: untaken options get no
  momentum and no weight decay (a plain momentum optimizer keeps moving them with stale momentum);
* ``recompute_in_backward`` keeps only a block's inputs for the backward pass and recomputes
  its activations there (gradient checkpointing of one path, eager or traced);
* ``transfer_weights`` copies a fixed path's weights into the child network built from the
  matching genotype, so the child computes what the path computed.

Under a tf.distribute strategy the train step is the one-device step on the global batch: every
replica draws the same path (the stateless seed is the step counter, mirrored on every replica),
weights its mean loss by its share of the global batch and sums the gradients over the replicas
before the path-masking optimizer applies them (``tfnas.supernets.replicas``). BatchNorm layers
inside a sampled branch (``SinglePathSupernet``) keep per-replica statistics (Keras'
non-synchronised BN): tf.distribute cannot all-reduce inside ``tf.switch_case``'s branch functions.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import record  # stop_recording, as tf.recompute_grad uses it

from tfnas.graph_optimization import light_graph_optimization  # noqa: F401  (re-exported: single_path, super_transformer)
from tfnas.supernets import replicas

keras = tf.keras


# --- paths ------------------------------------------------------------------------------------------
def _seed(seed: int, step: Any) -> tf.Tensor:
    return tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])


def sample_uniform_path(seed: int, step: Any, num_choices: tf.Tensor) -> tf.Tensor:
    """One uniform option index per choice, a stateless function of (seed, step)."""
    num_choices = tf.convert_to_tensor(num_choices, tf.int32)
    u = tf.random.stateless_uniform(tf.shape(num_choices), seed=_seed(seed, step))
    return tf.minimum(tf.cast(tf.floor(u * tf.cast(num_choices, tf.float32)), tf.int32), num_choices - 1)


def sample_categorical_path(seed: int, step: Any, probabilities: tf.Tensor) -> tf.Tensor:
    """One option per choice from per-choice probabilities ([choices, max options], rows zero-padded)."""
    probabilities = tf.convert_to_tensor(probabilities, tf.float32)
    logits = tf.math.log(tf.maximum(probabilities, 1e-30)) + tf.where(probabilities > 0, 0.0, -1e30)
    return tf.cast(tf.random.stateless_categorical(logits, 1, seed=_seed(seed, step))[:, 0], tf.int32)


class ChoiceLayer(keras.layers.Layer):
    """One choice: its candidate layers, of which the path's index picks one (the others do not run)."""

    def __init__(self, candidates: Sequence[keras.layers.Layer], **kwargs):
        super().__init__(**kwargs)
        if not candidates:
            raise ValueError(f"{self.name}: a choice needs at least one candidate")
        self.candidates = list(candidates)

    def call(self, x, index, training=None):
        if len(self.candidates) == 1:
            return self.candidates[0](x, training=training)
        branches = [lambda op=op: op(x, training=training) for op in self.candidates]
        return tf.switch_case(index, branches)

    def build_candidates(self, x: tf.Tensor) -> list[tf.Tensor]:
        """Run every candidate once on ``x`` so all of their weights exist (a traced switch builds only one)."""
        outputs = [op(x, training=False) for op in self.candidates]
        self.built = True
        return outputs


def batchnorms(layer: keras.layers.Layer) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization inside ``layer`` (recursively, ``layer`` itself excluded)."""
    return [l for l in layer._flatten_layers(include_self=False, recursive=True)
            if isinstance(l, keras.layers.BatchNormalization)]


# --- the supernet -------------------------------------------------------------------------------------
class PathSamplingSupernet(keras.Model):
    """A keras.Model whose ``train_step`` samples one path per step and trains only that path.

    Subclasses implement:
      ``forward(x, path, training, frozen_training)``: logits of ``x`` through ``path`` (a [num
        choices] int32 tensor); parts the subclass keeps frozen run with ``frozen_training``
        (False in training steps, True while recalibrating BN statistics);
      ``option_variables()``: (variable, (choice, option)) for every variable owned by one option
        (what ``PathSGD`` masks); variables not listed are shared and always trained;
      ``path_batchnorms(path)``: the BN layers a fixed path runs (what ``recalibrate_bn`` resets).
    They may override ``trainable_path_variables`` (default: every trainable variable), set
    ``grad_clip`` (a global-norm clip of each step's gradients; default none) and
    ``next_path(step)`` (default: ``sample_path``, uniform or from ``set_probabilities``). A method
    that chooses paths itself (MANAS' agents) assigns them with ``use_path`` before each step.
    """

    def __init__(self, num_choices: Sequence[int], seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not num_choices or min(num_choices) < 1:
            raise ValueError(f"every choice needs at least one option, got {list(num_choices)}")
        self.num_choices = tuple(int(n) for n in num_choices)
        self.seed = int(seed)
        self._num_choices_t = tf.constant(self.num_choices, tf.int32)
        self.step_counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_counter",
                                        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.path = tf.Variable(tf.zeros([len(self.num_choices)], tf.int32), trainable=False, name="path",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.external_path = False
        self.grad_clip: float | None = None  # global-norm clip of a step's gradients (None: off)
        self._probabilities: tf.Variable | None = None
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    # --- to implement ---------------------------------------------------------------------------------
    def forward(self, x, path, training=None, frozen_training=False):
        raise NotImplementedError

    def option_variables(self) -> list[tuple[tf.Variable, tuple[int, int]]]:
        return []

    def path_batchnorms(self, path: np.ndarray) -> list[keras.layers.BatchNormalization]:
        return batchnorms(self)

    def trainable_path_variables(self) -> list[tf.Variable]:
        return list(self.trainable_variables)

    # --- paths ----------------------------------------------------------------------------------------
    def set_probabilities(self, probabilities: Sequence[Sequence[float]]) -> None:
        """Sample option j of choice i with probability ``probabilities[i][j]`` instead of uniformly."""
        rows = [list(map(float, p)) for p in probabilities]
        if len(rows) != len(self.num_choices) or any(len(r) != n for r, n in zip(rows, self.num_choices)):
            raise ValueError(f"need one probability per option of each choice {list(self.num_choices)}")
        width = max(self.num_choices)
        table = np.zeros([len(rows), width], np.float32)
        for i, r in enumerate(rows):
            table[i, : len(r)] = np.asarray(r) / max(sum(r), 1e-30)
        if self._probabilities is None:
            self._probabilities = tf.Variable(table, trainable=False, name="path_probabilities")
        else:
            self._probabilities.assign(table)

    def sample_path(self, step: Any) -> tf.Tensor:
        """The path of training step ``step``: stateless, the same on every replica and after resume."""
        if self._probabilities is not None:
            return sample_categorical_path(self.seed, step, self._probabilities)
        return sample_uniform_path(self.seed, step, self._num_choices_t)

    def next_path(self, step: tf.Tensor) -> tf.Tensor:
        return self.path.read_value() if self.external_path else self.sample_path(step)

    def use_path(self, path: Sequence[int]) -> None:
        """Train the next steps on ``path`` (a method that picks paths itself, e.g. MANAS' agents)."""
        self.external_path = True
        self.path.assign(np.asarray(path, np.int32))

    def variables_on_path(self, path: Sequence[int], variables: Sequence[tf.Variable]) -> list[tf.Variable]:
        """``variables`` that ``path`` uses: shared ones and those of the options it takes.

        Run eagerly, a step differentiates and updates only these; with ``PathSGD`` that is exactly
        the traced step (which masks the others' zero updates), without tracing one switch branch
        and its gradient per option: a traced DARTS-size supernet (896 options) takes many minutes
        to trace, an eager step runs at once and costs a few Python dispatches per layer.
        """
        if "_owner_of" not in self.__dict__:
            self.__dict__["_owner_of"] = {v.ref(): owner for v, owner in self.option_variables()}
        owner_of = self.__dict__["_owner_of"]
        on = []
        for v in variables:
            owner = owner_of.get(v.ref())
            if owner is None or int(path[owner[0]]) == owner[1]:
                on.append(v)
        return on

    # --- forward and training -----------------------------------------------------------------------------
    def call(self, x, training=None, path=None):
        path = self.path if path is None else tf.convert_to_tensor(path, tf.int32)
        return self.forward(x, path, training=training, frozen_training=False)

    def train_step(self, data):
        images, labels = data
        path = self.next_path(self.step_counter.read_value())
        self.path.assign(path)
        variables = self.trainable_path_variables()
        share = replicas.batch_share(images)
        if tf.executing_eagerly() and isinstance(self.optimizer, PathSGD):
            variables = self.variables_on_path(path.numpy(), variables)  # the others would not move anyway
        with tf.GradientTape() as tape:
            logits, loss = self.training_loss(images, labels, path)
            weighted = loss if isinstance(share, float) else loss * share
        grads = replicas.sum_over_replicas(tape.gradient(weighted, variables))
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
        if self.grad_clip:  # untaken options' gradients are zero: the norm is the path's
            grads, _ = tf.clip_by_global_norm(grads, self.grad_clip)
        if hasattr(self.optimizer, "apply_path_update"):  # PathSGD, or another path-masking optimizer
            self.optimizer.apply_path_update(list(zip(grads, variables)))
        else:
            self.optimizer.apply_gradients(zip(grads, variables), skip_gradients_aggregation=True)
        self.step_counter.assign_add(1)
        self.loss_tracker.update_state(loss)
        self.acc_tracker.update_state(labels, logits)
        return {"loss": self.loss_tracker.result(), "accuracy": self.acc_tracker.result()}

    def training_loss(self, images, labels, path):
        """(logits, loss) of a training step on ``path``, the loss the mean over this replica's examples
        (the train step weights it by the replica's share of the global batch); a subclass may change
        the loss (soft targets, CutMix)."""
        logits = self(images, training=True, path=path)
        loss = self.compiled_loss(labels, logits, regularization_losses=self.losses)
        # compiled_loss divides by the replicas in sync (Keras' own scaling); undone here, since
        # the train step scales by the replica's actual share of the batch
        return logits, loss * replicas.num_replicas() if replicas.num_replicas() > 1 else loss

    def test_step(self, data):
        images, labels = data
        logits = self(images, training=False)
        loss = self.compiled_loss(labels, logits, regularization_losses=self.losses)
        self.loss_tracker.update_state(loss)
        self.acc_tracker.update_state(labels, logits)
        return {"loss": self.loss_tracker.result(), "accuracy": self.acc_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.acc_tracker]

    # --- BN recalibration and scoring of a fixed path ------------------------------------------------------
    def recalibrate_bn(self, path: Sequence[int], batches: Iterable[Any]) -> int:
        """Replace the path's BatchNorm statistics by their average over ``batches`` (training images).

        Shared BN layers saw a mixture of paths during training, so their running statistics describe
        no single path (SPOS recalibrates on 200 batches). Each batch runs the path in training mode
        with BN momentum 0 (one graph traced for all paths), so afterwards every BN of the path holds
        that batch's mean and variance; these are averaged over the batches (fvcore's "precise BN")
        and written back. Frozen parts are recalibrated too: their inputs change with the searched
        parts. Returns the number of batches.
        """
        path = np.asarray(path, np.int32)
        bns = self.path_batchnorms(path)
        fn = self._recalibration_fn()
        path_t = tf.constant(path)
        means = [np.zeros(bn.moving_mean.shape, np.float64) for bn in bns]
        variances = [np.zeros(bn.moving_variance.shape, np.float64) for bn in bns]
        count = 0
        for batch in batches:
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            fn(tf.cast(images, tf.float32), path_t)
            for k, bn in enumerate(bns):
                means[k] += bn.moving_mean.numpy()
                variances[k] += bn.moving_variance.numpy()
            count += 1
        if count == 0:
            raise ValueError("BN recalibration needs at least one training batch")
        for k, bn in enumerate(bns):
            bn.moving_mean.assign(means[k] / count)
            bn.moving_variance.assign(variances[k] / count)
        return count

    def _recalibration_fn(self):
        """forward(images, path) in training mode everywhere, traced once with every BN's momentum at 0."""
        if "_recalibrate" not in self.__dict__:
            @tf.function(reduce_retracing=True)
            def fn(images, path):
                self.forward(images, path, training=True, frozen_training=True)
                return tf.constant(0)

            bns = batchnorms(self)
            saved = [bn.momentum for bn in bns]
            self.__dict__["_recalibrate"] = _with_momentum_zero(fn, bns, saved)
        return self.__dict__["_recalibrate"]

    def score_path(self, path: Sequence[int], recalibration: Iterable[Any], validation: Iterable[Any]) -> float:
        """Accuracy of a fixed path after recalibrating its BN; the supernet's statistics are put back after.

        Scoring a candidate is a read of the trained supernet: the recalibrated statistics serve this
        one score only. Otherwise the supernet would end a search holding whichever candidates were
        scored last, so a resumed search (which scores only the remaining candidates) would hand a
        later stage, or an inheriting network, different statistics than an uninterrupted one.
        """
        bns = self.path_batchnorms(np.asarray(path, np.int32))
        saved = [(bn.moving_mean.numpy(), bn.moving_variance.numpy()) for bn in bns]
        try:
            self.recalibrate_bn(path, recalibration)
            return self.evaluate_path(path, validation)
        finally:
            for bn, (mean, variance) in zip(bns, saved):
                bn.moving_mean.assign(mean)
                bn.moving_variance.assign(variance)

    def evaluate_path(self, path: Sequence[int], dataset: Iterable[Any]) -> float:
        """Top-1 accuracy of one fixed path on ``dataset`` (inference-mode BN: recalibrate first)."""
        fn = self._eval_fn()
        correct, total = 0, 0
        path_t = tf.constant(np.asarray(path, np.int32))
        for images, labels in dataset:
            c, n = fn(images, tf.cast(labels, tf.int32), path_t)
            correct += int(c)
            total += int(n)
        if total == 0:
            raise ValueError("evaluate_path got an empty dataset")
        return correct / total

    def _eval_fn(self):
        if "_eval" not in self.__dict__:
            @tf.function(reduce_retracing=True)
            def fn(images, labels, path):
                logits = self(images, training=False, path=path)
                pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
                return tf.reduce_sum(tf.cast(pred == labels, tf.int32)), tf.size(labels)
            self.__dict__["_eval"] = fn
        return self.__dict__["_eval"]


def _with_momentum_zero(fn, bns, saved):
    """``fn`` whose traces see every BN's momentum at 0 (momentum is read when a graph is traced)."""
    def run(images, path):
        for bn in bns:
            bn.momentum = 0.0
        try:
            return fn(images, path)
        finally:
            for bn, momentum in zip(bns, saved):
                bn.momentum = momentum
    return run


@contextlib.contextmanager
def statistics_kept(layers: Sequence[keras.layers.Layer]) -> Iterator[None]:
    """BN layers inside ``layers`` leave their moving statistics as they are (momentum 1) for what
    runs (eagerly) or is traced in this context: a recomputation must not count a batch twice."""
    bns = [bn for layer in layers for bn in ([layer] if isinstance(layer, keras.layers.BatchNormalization)
                                             else batchnorms(layer))]
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 1.0
    try:
        yield
    finally:
        for bn, momentum in zip(bns, saved):
            bn.momentum = momentum


def recompute_in_backward(fn: Callable[..., tf.Tensor], inputs: Sequence[tf.Tensor],
                          layers: Sequence[keras.layers.Layer]) -> tf.Tensor:
    """``fn(*inputs)``, keeping only ``inputs`` for the backward pass: the activations are recomputed
    once the incoming gradient exists (gradient checkpointing), with the BN statistics of ``layers``
    (the layers ``fn`` runs) updated by the forward pass only. Peak memory becomes that of one block
    instead of all of them, for one more forward pass of it.

    Run eagerly, the forward pass is hidden from the outer tape (as ``tf.recompute_grad`` does), or
    the tape would keep every activation alive. Variables ``fn`` reads but does not use on this step
    (untaken switch branches) get zero gradients.
    """

    @tf.custom_gradient
    def forward(*flat):
        with record.stop_recording() if tf.executing_eagerly() else contextlib.nullcontext():
            out = fn(*flat)

        def grad(dy, variables=None):
            variables = list(variables or [])
            # Recompute only once the incoming gradient exists; otherwise a graph runtime is free to
            # recompute every block right after the forward pass, and nothing is saved.
            with tf.control_dependencies([dy]):
                again_inputs = [tf.identity(t) for t in flat]
            with tf.GradientTape() as tape:
                tape.watch(again_inputs)
                with statistics_kept(layers):
                    again = fn(*again_inputs)
            grads = tape.gradient(again, again_inputs + variables, output_gradients=dy,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return grads[:len(flat)], grads[len(flat):]

        return out, grad

    return forward(*inputs)


def transfer_weights(pairs: Iterable[tuple[keras.layers.Layer, keras.layers.Layer]]) -> int:
    """Copy each (supernet layer, child layer) pair's weights; returns how many layers were copied.

    A fixed path's layers, copied into the child network of the matching genotype, make the child
    compute exactly what the path computes (weights and BN statistics both).
    """
    count = 0
    for source, target in pairs:
        weights = source.get_weights()
        shapes = [w.shape for w in target.get_weights()]
        if [w.shape for w in weights] != shapes:
            raise ValueError(f"cannot copy {source.name} into {target.name}: weight shapes "
                             f"{[w.shape for w in weights]} vs {shapes}")
        target.set_weights(weights)
        count += 1
    return count


# --- the optimizer -------------------------------------------------------------------------------------------
class PathSGD(keras.optimizers.SGD):
    """SGD (momentum, coupled L2 weight decay) that updates an option's variables only when it is on the path.

    ``attach(supernet)`` records which (choice, option) owns each variable and the supernet's path
    variable, assigned at the start of each train_step. Variables without an owner (shared parts,
    fixed choices) are always updated. Weight decay is added to the gradient of kernels (as PyTorch
    SGD does in SPOS), never to BN parameters or biases. Owners are keyed with the optimizer's own
    variable key, which is the same for a distributed variable and its replicas.
    """

    def __init__(self, learning_rate=0.05, momentum: float = 0.9, weight_decay_l2: float = 4e-5,
                 nesterov: bool = False, name: str = "PathSGD", **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, name=name, **kwargs)
        self.weight_decay_l2 = weight_decay_l2
        self._owners: dict[Any, tuple[int, int]] = {}
        self._path: tf.Variable | None = None

    def attach(self, supernet: PathSamplingSupernet) -> "PathSGD":
        """Bind to ``supernet``: learn which option owns each variable and create every momentum slot now.

        Creating the slots up front keeps tf.function from tracing the train step twice (a first
        trace that creates variables, then another).
        """
        self._owners = {self._var_key(v): owner for v, owner in supernet.option_variables()}
        self._path = supernet.path
        self.build(supernet.trainable_path_variables())
        return self

    def apply_path_update(self, grads_and_vars) -> None:
        """Apply one step of gradients already summed over replicas (the core's train step sums them).

        On a single device without Keras' per-variable cross-replica machinery: it adds a merge call
        per variable, which made tracing a supernet step with ~1,700 variables take tens of
        seconds. Under a distribution strategy it is needed (each replica's copy of a variable is
        updated through ``strategy.extended.update``), so there the standard ``apply_gradients``
        runs, without aggregating again.
        """
        if tf.distribute.in_cross_replica_context() or tf.distribute.has_strategy():
            self.apply_gradients(grads_and_vars, skip_gradients_aggregation=True)
            return
        self._compute_current_learning_rate()
        for grad, var in grads_and_vars:
            self.update_step(grad, var)
        self.iterations.assign_add(1)

    def update_step(self, gradient, variable):
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        lr = tf.cast(self.learning_rate, variable.dtype)
        if self.weight_decay_l2 and "kernel" in variable.name:
            gradient = gradient + tf.cast(self.weight_decay_l2, variable.dtype) * variable
        owner = self._owners.get(self._var_key(variable))
        # on = 1 when the variable's option is on the sampled path (or it has no owner), else 0:
        # arithmetic masking keeps the graph small (one tf.cond per variable made tracing minutes long).
        on = None if owner is None or self._path is None else \
            tf.cast(tf.equal(self._path[owner[0]], owner[1]), variable.dtype)
        momentum = tf.cast(self.momentum, variable.dtype)
        m = self.momentums[self._index_dict[self._var_key(variable)]]
        new_m = m * momentum - gradient * lr
        if on is not None:
            new_m = m + on * (new_m - m)
        m.assign(new_m)
        step = new_m * momentum - gradient * lr if self.nesterov else new_m
        variable.assign_add(step if on is None else on * step)

    def get_config(self):
        return {**super().get_config(), "weight_decay_l2": self.weight_decay_l2}
