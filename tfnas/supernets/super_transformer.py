"""ViTAS' super-transformer on the generic path-sampling core: one sub-transformer per training step.

A path is one option index per choice of the ViT space (``tfnas.spaces.vit.ViTSpace``: patch size,
embedding width, per slot heads / attention width / MLP width). ``forward`` runs the path's patch
embedding, every block slot with the path's widths sliced out of the slot's largest weights, and
the classifier. Widths are tensors, so one traced graph runs every sub-transformer and nothing is
retraced. Only the patch embedding branches (``tf.switch_case``: token counts differ); an identity
slot runs with zero widths and its residual branches multiplied by 0 (exactly the identity, at the
cost of two LayerNorms), and a head option's private q/k are picked by a one-hot sum. Control flow
per slot (``tf.cond`` / ``tf.switch_case``) made tracing and instantiating the first step several
times slower for no gain in step time.

Training (``train_step``): the path of step s is drawn statelessly from (seed, s) with per-choice
probabilities (``set_probabilities``: identity slots with the tuned identity probability), so every
replica and a resumed run draw the same sub-transformers. Only the sampled sub-transformer is
trained: ``PathAdamW`` updates a variable owned by options (a patch size's embedding, a head
option's private q/k, a block slot's shared weights) only when one of them is on the path, the way
the reference freezes the unsampled parts. Loss: soft-target cross-entropy with label smoothing and
optional CutMix (the paper's recipe).

Weight sharing (``weight_sharing``): ``left`` slices the first channels of every weight, ``right``
the last; ``bcnet`` runs both and sums their logits into one loss (BCNet, as ViTAS' code does).

``export_child`` copies a path's sliced weights into the standalone child ViT of the matching
genotype (``tfnas.spaces.vit_network``), which then computes the same logits.
ViTs have LayerNorm, not BatchNorm: there are no running statistics, so SPOS' BN recalibration
before scoring has nothing to do (``path_batchnorms`` is empty) and a path is scored directly.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from tfnas.data.cutmix import cutmix, smoothed_targets
from tfnas.ops import transformer_ops as ops
from tfnas.spaces import vit, vit_network
from tfnas.supernets.path_sampling import PathSamplingSupernet, light_graph_optimization  # noqa: F401

keras = tf.keras

WEIGHT_SHARING = {"left": (ops.LEFT,), "right": (ops.RIGHT,), "bcnet": (ops.LEFT, ops.RIGHT)}

Owner = tuple[int, tuple[int, ...]]
"""(choice index, options): a variable is on the path when the choice takes one of the options."""


class SuperTransformer(PathSamplingSupernet):
    """Patch embeddings -> ``num_slots`` sliceable block slots -> sliceable classifier."""

    def __init__(self, space: vit.ViTSpace, weight_sharing: str = "left", private_class_token: bool = True,
                 seed: int = 0, label_smoothing: float = 0.1, cutmix_alpha: float = 0.0, **kwargs):
        if weight_sharing not in WEIGHT_SHARING:
            raise ValueError(f"weight_sharing must be one of {sorted(WEIGHT_SHARING)}, got {weight_sharing!r}")
        super().__init__(space.num_choices, seed=seed, **kwargs)
        c = space.config
        self.space, self.weight_sharing = space, weight_sharing
        self.sides = WEIGHT_SHARING[weight_sharing]
        self.private_class_token = bool(private_class_token)
        self.label_smoothing, self.cutmix_alpha = float(label_smoothing), float(cutmix_alpha)
        self.embeddings = ops.PatchEmbeddings(c.patch_sizes, c.image_size, space.input_channels, c.max_embed_dim,
                                              private_class_token, name=vit_network.PATCH_EMBED)
        self.blocks = [ops.SliceableTransformerBlock(c.max_embed_dim, c.head_options, c.max_attention_dim,
                                                     c.max_mlp_dim, name=vit.slot_name(i))
                       for i in range(c.num_slots)]
        self.classifier = ops.SliceableClassifier(c.max_embed_dim, space.num_classes, name=vit_network.HEAD)
        self._embed_dims = tf.constant(c.embed_dims, tf.int32)
        self._attention_dims = tf.constant(c.attention_dims, tf.int32)
        self._mlp_dims = tf.constant(c.mlp_dims, tf.int32)
        self.built = True

    # --- forward ---------------------------------------------------------------------------------------
    @tf.autograph.experimental.do_not_convert  # no Python control flow on tensors: tracing without AutoGraph is faster
    def forward_side(self, x, path, side: str):
        """Logits of the sub-transformer ``path`` with ``side``-sliced weights."""
        x = self.embeddings(x, path[0], tf.gather(self._embed_dims, path[1]), side)
        for i, block in enumerate(self.blocks):
            h, a, m = self.space.slot_columns(i)
            active = path[h] > 0  # an identity slot runs with zero widths and its branches gated off
            x = block(x, tf.maximum(path[h] - 1, 0), tf.where(active, tf.gather(self._attention_dims, path[a]), 0),
                      tf.where(active, tf.gather(self._mlp_dims, path[m]), 0), side, gate=tf.cast(active, x.dtype))
        return self.classifier(x, side)

    def forward(self, x, path, training=None, frozen_training=False):
        logits = [self.forward_side(x, path, side) for side in self.sides]
        return logits[0] if len(logits) == 1 else tf.add_n(logits)

    # --- training --------------------------------------------------------------------------------------
    def training_loss(self, images, labels, path):
        """Soft-target cross-entropy (label smoothing; CutMix stateless from (seed, step)) of the path's logits."""
        targets = smoothed_targets(labels, self.space.num_classes, self.label_smoothing)
        if self.cutmix_alpha > 0:
            seed = tf.stack([tf.cast(self.seed, tf.int64) + 7919, self.step_counter.read_value()])
            images, targets = cutmix(images, targets, self.cutmix_alpha, seed)
        logits = self(images, training=True, path=path)
        return logits, tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(targets, logits))

    def compile(self, optimizer="adam", **kwargs):
        """``test_step`` / ``evaluate`` score with sparse cross-entropy unless another loss is given."""
        kwargs.setdefault("loss", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        super().compile(optimizer=optimizer, **kwargs)

    def set_identity_probability(self, probability: float) -> None:
        """Sample identity slots with ``probability`` (ViTAS' tuned value), every other choice uniformly."""
        self.set_probabilities(self.space.path_probabilities(probability))

    # --- who owns which variable --------------------------------------------------------------------------
    def variable_owners(self) -> list[tuple[tf.Variable, Owner]]:
        """Every variable that only some paths use, with the options that use it.

        A patch size's conv, bias, position embedding (and private class token); a head option's q/k;
        a slot's shared LayerNorms, v, projection and MLP (used by every head option, not by identity).
        The classifier and a shared class token are used by every path.
        """
        owners: list[tuple[tf.Variable, Owner]] = []
        for k, embedding in enumerate(self.embeddings.embeddings):
            mine = [embedding.kernel, embedding.bias, embedding.position]
            if embedding.private_class_token:
                mine.append(embedding.class_token)
            owners += [(v, (0, (k,))) for v in mine]
        heads = len(self.space.config.head_options)
        for i, block in enumerate(self.blocks):
            column = self.space.slot_columns(i)[0]
            for j in range(heads):
                owners += [(v, (column, (j + 1,))) for layer in block.option_layers(j) for v in layer.weights]
            owners += [(v, (column, tuple(range(1, heads + 1)))) for layer in block.shared_layers()
                       for v in layer.weights]
        return owners

    def option_variables(self) -> list[tuple[tf.Variable, tuple[int, int]]]:
        """Variables owned by exactly one option (the core's single-owner view of ``variable_owners``)."""
        return [(v, (choice, options[0])) for v, (choice, options) in self.variable_owners() if len(options) == 1]

    def path_batchnorms(self, path) -> list:
        return []  # LayerNorm only: nothing to recalibrate

    # --- fixed paths -----------------------------------------------------------------------------------
    def path_of(self, arch_or_genotype: Any) -> np.ndarray:
        arch = self.space.arch(arch_or_genotype) if isinstance(arch_or_genotype, vit.ViTGenotype) else arch_or_genotype
        return self.space.path(arch)

    def path_accuracy(self, path: Sequence[int], dataset: Iterable[Any]) -> float:
        """Top-1 accuracy of a fixed path; with bcnet the mean of its left and right accuracies (as ViTAS scores)."""
        path_t = tf.constant(np.asarray(path, np.int32))
        fns = [self._side_eval_fn(side) for side in self.sides]
        correct, total = np.zeros(len(fns)), 0
        for images, labels in dataset:
            labels = tf.cast(labels, tf.int32)
            for k, fn in enumerate(fns):
                correct[k] += int(fn(images, labels, path_t))
            total += int(tf.size(labels))
        if total == 0:
            raise ValueError("path_accuracy got an empty dataset")
        return float(np.mean(correct / total))

    def _side_eval_fn(self, side: str):
        cache = self.__dict__.setdefault("_side_eval", {})
        if side not in cache:
            @tf.function(reduce_retracing=True, autograph=False)
            def fn(images, labels, path):
                pred = tf.argmax(self.forward_side(images, path, side), axis=-1, output_type=tf.int32)
                return tf.reduce_sum(tf.cast(pred == labels, tf.int32))
            cache[side] = fn
        return cache[side]

    def sliced_weights(self, arch: Mapping[str, Any], side: str = ops.LEFT) -> dict[str, list[np.ndarray]]:
        """The child's weights of ``arch`` by layer name: slices of this supernet's weights."""
        path = self.space.path(arch)
        genotype = self.space.genotype(arch)
        c = self.space.config
        dim = genotype.embed_dim
        out = {vit_network.PATCH_EMBED: self.embeddings.embeddings[int(path[0])].weights_for(dim, side)}
        for i, (block, spec) in enumerate(zip(self.blocks, genotype.blocks)):
            if spec is not None:
                head_index = c.head_options.index(spec.heads)
                out[vit.slot_name(i)] = ops.flat_weights(
                    block.weights_for(dim, head_index, spec.attention_dim, spec.mlp_dim, side))
        out[vit_network.HEAD] = ops.flat_weights(self.classifier.weights_for(dim, side))
        return {name: [np.asarray(w) for w in weights] for name, weights in out.items()}

    def export_child(self, arch_or_genotype: Any, side: str | None = None) -> keras.Model:
        """The standalone child ViT of a path with this supernet's sliced weights (``side`` default: the
        first side trained, i.e. left for left and bcnet)."""
        arch = self.space.arch(arch_or_genotype) if isinstance(arch_or_genotype, vit.ViTGenotype) else arch_or_genotype
        side = side or self.sides[0]
        genotype = self.space.genotype(arch)
        c = self.space.config
        child = vit_network.build_vit(genotype, self.space.num_classes,
                                      (c.image_size, c.image_size, self.space.input_channels))
        for name, weights in self.sliced_weights(arch, side).items():
            child.get_layer(name).set_weights(weights)
        return child


# --- the optimizer -------------------------------------------------------------------------------------------
class PathAdamW(keras.optimizers.Adam):
    """AdamW (decoupled weight decay, per-variable step counts as PyTorch's) that leaves variables off the path alone.

    ``attach(supernet)`` reads ``supernet.variable_owners()`` (variable -> (choice, options)) and the
    supernet's path variable. A variable whose options are not on the path gets no moment update, no
    step-count increment and no weight decay (PyTorch's AdamW skips parameters without gradient, which
    is how the reference freezes unsampled parts); a variable on the path is updated as a whole (its
    unsliced part with zero gradient, as in the reference). Weight decay applies to kernels and
    embeddings, not to biases or LayerNorm parameters.
    """

    def __init__(self, learning_rate=1e-3, weight_decay: float = 0.05, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, name: str = "PathAdamW", **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, name=name,
                         **kwargs)
        self.decoupled_weight_decay = float(weight_decay)
        self._owners: dict[Any, Owner] = {}
        self._path: tf.Variable | None = None

    def attach(self, supernet: SuperTransformer) -> "PathAdamW":
        self._owners = {self._var_key(v): owner for v, owner in supernet.variable_owners()}
        self._path = supernet.path
        self.build(supernet.trainable_path_variables())
        return self

    def build(self, var_list):
        first = not getattr(self, "_built", False)
        super().build(var_list)
        if first:
            self._counts = [self.add_variable_from_reference(v, "count", shape=[]) for v in var_list]

    @staticmethod
    def decays(variable: tf.Variable) -> bool:
        name = variable.name.split("/")[-1]
        return not any(name.startswith(s) for s in ("bias", "gamma", "beta"))

    @tf.autograph.experimental.do_not_convert
    def apply_path_update(self, grads_and_vars) -> None:
        """One step; on a single device without Keras' per-variable cross-replica merge calls (see PathSGD).

        Scalars shared by every variable (learning rate, betas, each owner's on-path flag) are computed
        once per step: ~160 variables x a dozen ops dominated the traced step otherwise.
        """
        if tf.distribute.in_cross_replica_context() or tf.distribute.has_strategy():
            self.apply_gradients(grads_and_vars, skip_gradients_aggregation=True)  # already summed over replicas
            return
        self._compute_current_learning_rate()
        self.__dict__["_step_cache"] = {}  # not through __setattr__: a tracked dict would be checkpointed
        try:
            for grad, var in grads_and_vars:
                self.update_step(grad, var)
        finally:
            self.__dict__["_step_cache"] = None
        self.iterations.assign_add(1)

    def _cached(self, key, make):
        cache = self.__dict__.get("_step_cache")
        if cache is None:
            return make()
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def _on(self, variable):
        owner = self._owners.get(self._var_key(variable))
        if owner is None or self._path is None:
            return None
        choice, options = owner
        return self._cached(("on", owner, variable.dtype), lambda: tf.cast(
            tf.reduce_any(tf.equal(self._path[choice], tf.constant(options, tf.int32))), variable.dtype))

    def update_step(self, gradient, variable):
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        index = self._index_dict[self._var_key(variable)]
        m, v, count = self._momentums[index], self._velocities[index], self._counts[index]
        dtype = variable.dtype
        lr, b1, b2, eps, wd = self._cached(("scalars", dtype), lambda: tuple(tf.cast(x, dtype) for x in (
            self.learning_rate, self.beta_1, self.beta_2, self.epsilon, self.decoupled_weight_decay)))
        on = self._on(variable)
        new_m = b1 * m + (1 - b1) * gradient
        new_v = b2 * v + (1 - b2) * tf.square(gradient)
        new_count = count + (1.0 if on is None else on)
        if on is not None:  # arithmetic masking keeps the graph small (no tf.cond per variable)
            new_m, new_v = m + on * (new_m - m), v + on * (new_v - v)
        t = tf.maximum(new_count, 1.0)
        step = lr * (new_m / (1 - tf.pow(b1, t))) / (tf.sqrt(new_v / (1 - tf.pow(b2, t))) + eps)
        if self.decoupled_weight_decay and self.decays(variable):
            step = step + lr * wd * variable
        m.assign(new_m)
        v.assign(new_v)
        count.assign(new_count)
        variable.assign_sub(step if on is None else on * step)

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.decoupled_weight_decay}
