"""Single-path one-shot supernet (SPOS, Guo et al. 2020) over the HURRICANE layer-wise space.

Every searchable layer holds all of its candidate ops; a training step samples one op per layer
uniformly and runs, differentiates and updates only that path. The path is drawn with stateless
RNG from (seed, step counter), so every replica of a distributed run draws the same path and a
resumed run draws the same paths as an uninterrupted one.

"Updates only that path" is meant literally: the untaken ops get zero gradients from the
``tf.switch_case`` and ``PathSGD`` skips them entirely, so neither momentum nor weight decay moves
an op that was not on the sampled path (a plain momentum optimizer would keep moving them with
stale momentum).

Before a candidate is scored its BatchNorm statistics are recomputed on training batches
(``recalibrate_bn``): shared BN layers saw a mixture of paths during training, so their running
statistics do not describe any single path (SPOS recalibrates on 200 batches).

A fixed path of the supernet computes exactly the child network built from the matching genotype
(``tfnas.spaces.hurricane.build_child``) once the weights are copied over (``export_child``).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import tensorflow as tf

from tfnas.ops import mobile_ops
from tfnas.spaces import hurricane

keras = tf.keras


@contextlib.contextmanager
def light_graph_optimization() -> Iterator[None]:
    """Skip Grappler's graph rewrites while supernet functions are first run.

    A supernet step holds one branch function per candidate op and its gradient; Grappler spends
    most of the first step (tens of seconds on a 2-core CPU for 80 candidates) rewriting them, for
    no measurable gain in step time on CPU (0.10 s/step either way at 32x32, width 0.25, batch 64).
    The previous setting is restored on exit.
    """
    previous = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": previous})


class ChoiceLayer(keras.layers.Layer):
    """One searchable layer: its candidate ops, of which the path index picks one."""

    def __init__(self, ops: Sequence[str], out_channels: int, stride: int, **kwargs):
        super().__init__(**kwargs)
        if not ops:
            raise ValueError(f"{self.name}: a choice layer needs at least one candidate op")
        self.op_names = tuple(ops)
        self.candidates = [mobile_ops.build_op(op, out_channels, stride, name=f"{op}") for op in self.op_names]

    def call(self, x, index, training=None):
        if len(self.candidates) == 1:
            return self.candidates[0](x, training=training)
        branches = [lambda op=op: op(x, training=training) for op in self.candidates]
        return tf.switch_case(index, branches)


class SinglePathSupernet(keras.Model):
    """Stem -> 20 choice layers -> head; ``train_step`` trains one uniformly sampled path per step.

    ``candidates[i]`` are layer i's ops; a layer with a single candidate is fixed (the two-stage
    search fixes one part of the network this way). ``frozen_layers`` are not trained at all
    (their weights and BN statistics stay as they are).
    """

    def __init__(self, config: hurricane.HurricaneConfig, candidates: Sequence[Sequence[str]], seed: int = 0,
                 dropout: float = 0.0, frozen_layers: Iterable[int] = (), **kwargs):
        super().__init__(**kwargs)
        if len(candidates) != hurricane.NUM_LAYERS:
            raise ValueError(f"need candidates for {hurricane.NUM_LAYERS} layers, got {len(candidates)}")
        self.config = config
        self.candidates = tuple(tuple(c) for c in candidates)
        self.seed = int(seed)
        self.frozen_layers = frozenset(int(i) for i in frozen_layers)
        self.num_choices = tf.constant([len(c) for c in self.candidates], tf.int32)
        self.stem = hurricane.Stem(config.stem_channels, name="stem")
        self.choice_layers = [ChoiceLayer(ops, pos.out_channels, pos.stride, name=hurricane.layer_name(pos.index))
                              for ops, pos in zip(self.candidates, config.positions())]
        self.head = hurricane.Head(config.head_channels, config.num_classes, dropout, name="head")
        self.step_counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_counter",
                                        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.path = tf.Variable(tf.zeros([hurricane.NUM_LAYERS], tf.int32), trainable=False, name="path",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.build_all()

    # --- construction -----------------------------------------------------------------------
    def build_all(self) -> None:
        """Create every candidate's weights (a single-branch forward would leave the others unbuilt)."""
        res = self.config.resolution
        x = tf.zeros([1, res, res, self.config.input_channels])
        x = self.stem(x, training=False)
        for layer in self.choice_layers:
            outs = [op(x, training=False) for op in layer.candidates]
            layer.built = True
            x = outs[0]
        self.head(x, training=False)
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.acc_tracker]

    # --- paths --------------------------------------------------------------------------------
    def sample_path(self, step: tf.Tensor) -> tf.Tensor:
        """Uniform op index per layer from stateless RNG seeded by (seed, step): same on every replica."""
        u = tf.random.stateless_uniform([hurricane.NUM_LAYERS], seed=tf.stack([tf.cast(self.seed, tf.int64),
                                                                               tf.cast(step, tf.int64)]))
        return tf.minimum(tf.cast(tf.floor(u * tf.cast(self.num_choices, tf.float32)), tf.int32),
                          self.num_choices - 1)

    def path_for(self, ops: Sequence[str]) -> np.ndarray:
        """Indices of the named ops (one per layer) in this supernet's candidates."""
        if len(ops) != hurricane.NUM_LAYERS:
            raise ValueError(f"a path names {hurricane.NUM_LAYERS} ops, got {len(ops)}")
        out = []
        for i, (op, cands) in enumerate(zip(ops, self.candidates)):
            if op not in cands:
                raise ValueError(f"layer {i}: op {op!r} is not among this supernet's candidates {list(cands)}")
            out.append(cands.index(op))
        return np.array(out, np.int32)

    def ops_for(self, path: Sequence[int]) -> tuple[str, ...]:
        return tuple(cands[int(i)] for cands, i in zip(self.candidates, path))

    # --- forward ------------------------------------------------------------------------------
    def call(self, x, training=None, path=None):
        path = self.path if path is None else tf.convert_to_tensor(path, tf.int32)
        x = self.stem(x, training=training)
        for i, layer in enumerate(self.choice_layers):
            x = layer(x, path[i], training=False if i in self.frozen_layers else training)
        return self.head(x, training=training)

    def train_step(self, data):
        images, labels = data
        step = self.step_counter.read_value()
        path = self.sample_path(step)
        self.path.assign(path)
        variables = self.trainable_path_variables()
        with tf.GradientTape() as tape:
            logits = self(images, training=True, path=path)
            loss = self.compiled_loss(labels, logits, regularization_losses=self.losses)
        grads = tape.gradient(loss, variables)
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
        if isinstance(self.optimizer, PathSGD):
            self.optimizer.apply_path_update(list(zip(grads, variables)))
        else:
            self.optimizer.apply_gradients(zip(grads, variables))
        self.step_counter.assign_add(1)
        self.loss_tracker.update_state(loss)
        self.acc_tracker.update_state(labels, logits)
        return {"loss": self.loss_tracker.result(), "accuracy": self.acc_tracker.result()}

    def test_step(self, data):
        images, labels = data
        logits = self(images, training=False)
        loss = self.compiled_loss(labels, logits, regularization_losses=self.losses)
        self.loss_tracker.update_state(loss)
        self.acc_tracker.update_state(labels, logits)
        return {"loss": self.loss_tracker.result(), "accuracy": self.acc_tracker.result()}

    # --- which variable belongs to which op ---------------------------------------------------------
    def trainable_path_variables(self) -> list[tf.Variable]:
        """Trainable weights of the stem, the head and every candidate of the layers that are not frozen."""
        out = list(self.stem.trainable_variables)
        for i, layer in enumerate(self.choice_layers):
            if i not in self.frozen_layers:
                for op in layer.candidates:
                    out += op.trainable_variables
        return out + list(self.head.trainable_variables)

    def variable_owners(self) -> list[tuple[tf.Variable, tuple[int, int]]]:
        """(variable, (layer, candidate index)) for every variable of a layer with several candidates."""
        owners = []
        for i, layer in enumerate(self.choice_layers):
            if len(layer.candidates) > 1:
                for j, op in enumerate(layer.candidates):
                    owners += [(v, (i, j)) for v in op.variables]
        return owners

    # --- BN recalibration and scoring -----------------------------------------------------------------
    def recalibrate_bn(self, path: Sequence[int], batches: Iterable[Any]) -> int:
        """Replace the path's BatchNorm statistics by their average over ``batches`` (training images).

        Each batch runs the path in training mode with BN momentum 0 (a graph traced once for all
        paths), so afterwards every BN of the path holds that batch's mean and variance; these are
        averaged over the batches (the "precise BN" of fvcore) and written back. Frozen layers are
        recalibrated too: their inputs change with the searched layers. Returns the batch count.
        """
        path = np.asarray(path, np.int32)
        bns = self._path_batchnorms(path)
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

    def _path_batchnorms(self, path: np.ndarray) -> list[keras.layers.BatchNormalization]:
        owners = [self.stem] + [layer.candidates[int(j)] for layer, j in zip(self.choice_layers, path)] + [self.head]
        return [bn for owner in owners for bn in _batchnorms(owner)]

    def _recalibration_fn(self):
        """forward(images, path) in training mode for every layer, traced once with every BN's momentum at 0."""
        if "_recalibrate" not in self.__dict__:
            res, channels = self.config.resolution, self.config.input_channels

            @tf.function(input_signature=[tf.TensorSpec([None, res, res, channels], tf.float32),
                                          tf.TensorSpec([hurricane.NUM_LAYERS], tf.int32)])
            def fn(images, path):
                x = self.stem(images, training=True)
                for i, layer in enumerate(self.choice_layers):
                    x = layer(x, path[i], training=True)
                self.head(x, training=True)
                return tf.constant(0)

            bns = _batchnorms(self)
            saved = [bn.momentum for bn in bns]
            try:
                for bn in bns:
                    bn.momentum = 0.0
                fn.get_concrete_function()
            finally:
                for bn, momentum in zip(bns, saved):
                    bn.momentum = momentum
            self.__dict__["_recalibrate"] = fn
        return self.__dict__["_recalibrate"]

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

    # --- child export ------------------------------------------------------------------------------------
    def export_child(self, ops: Sequence[str], dropout: float = 0.0) -> keras.Model:
        """The child network of the path ``ops`` with this supernet's weights (and BN statistics)."""
        path = self.path_for(ops)
        genotype = hurricane.HurricaneGenotype(tuple(ops), self.config.resolution, self.config.width_multiplier)
        child = hurricane.build_child(genotype, self.config.num_classes, self.config.input_channels, dropout)
        child.get_layer("stem").set_weights(self.stem.get_weights())
        for i, (layer, j) in enumerate(zip(self.choice_layers, path)):
            child.get_layer(hurricane.layer_name(i)).set_weights(layer.candidates[int(j)].get_weights())
        child.get_layer("head").set_weights(self.head.get_weights())
        return child


def _batchnorms(layer: keras.layers.Layer) -> list[keras.layers.BatchNormalization]:
    return [l for l in layer._flatten_layers(include_self=False, recursive=True)
            if isinstance(l, keras.layers.BatchNormalization)]


class PathSGD(keras.optimizers.SGD):
    """SGD (momentum, coupled L2 weight decay) that updates an op's variables only when the op is on the path.

    ``attach(supernet)`` records which (layer, candidate) owns each variable and the supernet's
    path variable, assigned at the start of each train_step. Variables without an owner (stem,
    head, fixed layers) are always updated. Weight decay is added to the gradient of kernels (as
    PyTorch SGD does in SPOS), never to BN parameters or biases. Owners are keyed with the
    optimizer's own variable key, which is the same for a distributed variable and its replicas.
    """

    def __init__(self, learning_rate=0.05, momentum: float = 0.9, weight_decay_l2: float = 4e-5,
                 nesterov: bool = False, name: str = "PathSGD", **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, name=name, **kwargs)
        self.weight_decay_l2 = weight_decay_l2
        self._owners: dict[Any, tuple[int, int]] = {}
        self._path: tf.Variable | None = None

    def attach(self, supernet: SinglePathSupernet) -> "PathSGD":
        """Bind to ``supernet``: learn which op owns each variable and create every momentum slot now.

        Creating the slots up front keeps tf.function from tracing the train step twice (a first
        trace that creates variables, then another).
        """
        self._owners = {self._var_key(v): owner for v, owner in supernet.variable_owners()}
        self._path = supernet.path
        self.build(supernet.trainable_path_variables())
        return self

    def apply_path_update(self, grads_and_vars) -> None:
        """Apply one step; on a single device, without Keras' per-variable cross-replica machinery.

        That machinery adds a merge call per variable, which made tracing a supernet step with
        ~1,700 variables take tens of seconds; under a real distribution strategy it is needed
        (gradients are all-reduced), so there the standard ``apply_gradients`` runs.
        """
        if tf.distribute.in_cross_replica_context() or tf.distribute.get_strategy().num_replicas_in_sync > 1 \
                or tf.distribute.has_strategy():
            self.apply_gradients(grads_and_vars)
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
        # on = 1 when the variable's op is on the sampled path (or it has no owner), else 0: arithmetic
        # masking keeps the graph small (one tf.cond per variable made tracing minutes long).
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
