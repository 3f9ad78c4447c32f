"""Vision-transformer layers: the child ViT's layers and the super-transformer's sliceable ones.

Two kinds of layer compute the same functions (``patch_tokens``, ``layer_norm``, ``attention``,
``mlp``, ``transformer_block``, ``classify`` below):

* child layers (``PatchEmbedding``, ``TransformerBlock``, ``ClassifierHead``) hold weights of
  exactly the genotype's sizes and have static shapes, so they export to TFLite builtins;
* sliceable layers (``SliceableDense``, ``SliceableLayerNorm``, ``SliceablePatchEmbedding``,
  ``SliceableAttention``, ``SliceableTransformerBlock``, ``SliceableClassifier``) hold the largest
  weight of their choice and compute a smaller layer from a slice of it: the first ``c`` channels
  of every sliced axis (``side="left"``) or the last ``c`` (``side="right"``), as ViTAS' dynamic
  linear / conv / LayerNorm layers do (BCNet uses both sides). Sizes may be tensors, so one traced
  graph runs every sub-transformer.

``weights(...)`` of a sliceable layer returns the sliced tensors in the order of the matching child
layer's ``get_weights()``; copying them into the child (weight inheritance) makes the child compute
what the sliced layer computes.

ViTAS' private parts: ``SliceableAttention`` keeps separate q/k projections for every head-count
option (private self-attention maps) while v and the output projection are shared;
``PatchEmbeddings`` keeps one patch-embedding conv, position embedding and (private by default)
class token per patch size.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

keras = tf.keras

LEFT, RIGHT = "left", "right"
SIDES = (LEFT, RIGHT)
LAYER_NORM_EPSILON = 1e-6  # ViTAS / DeiT blocks


# --- the functions every layer computes -----------------------------------------------------------------
def layer_norm(x, gamma, beta, epsilon: float = LAYER_NORM_EPSILON):
    """Normalise each token over its channels (no running statistics: nothing to recalibrate)."""
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + epsilon) * gamma + beta


def dense(x, kernel, bias):
    """``x @ kernel + bias`` over the last axis of a [batch, tokens, channels] tensor.

    One broadcasting matmul (two ops; reshaping to 2-D and back took ten, and the super-transformer
    step holds over a hundred of these).
    """
    return tf.matmul(x, kernel) + bias


def patch_tokens(images, kernel, bias, class_token, position, patch_size: int):
    """Non-overlapping patches -> linear embedding (a conv with stride = kernel) -> [class; patches] + position."""
    x = tf.nn.conv2d(images, kernel, strides=patch_size, padding="VALID") + bias
    batch = tf.shape(x)[0]
    x = tf.reshape(x, [batch, -1, tf.shape(kernel)[-1]])
    cls = tf.tile(tf.reshape(class_token, [1, 1, -1]), [batch, 1, 1])
    return tf.concat([cls, x], axis=1) + position[None]


def _split_heads(x, heads):
    shape = tf.shape(x)
    x = tf.reshape(x, [shape[0], shape[1], heads, shape[2] // heads])
    return tf.transpose(x, [0, 2, 1, 3])


def attention(x, q, k, v, projection, heads):
    """Multi-head self-attention; ``q``/``k``/``v``/``projection`` are (kernel, bias) pairs.

    ``heads`` may be a tensor; the attention width (q's output channels) must be divisible by it.
    Scores are scaled by 1/sqrt(head dim) of the sub-network (the standard ViT scaling).
    """
    queries, keys, values = (_split_heads(dense(x, *w), heads) for w in (q, k, v))
    width = tf.shape(q[0])[1]
    scale = tf.math.rsqrt(tf.cast(tf.maximum(width // heads, 1), x.dtype))  # width 0: a gated-off slot
    weights = tf.nn.softmax(tf.matmul(queries, keys, transpose_b=True) * scale, axis=-1)
    out = tf.transpose(tf.matmul(weights, values), [0, 2, 1, 3])
    shape = tf.shape(x)
    return dense(tf.reshape(out, [shape[0], shape[1], width]), *projection)


def mlp(x, fc1, fc2):
    return dense(tf.nn.gelu(dense(x, *fc1), approximate=False), *fc2)


def transformer_block(x, norm1, q, k, v, projection, norm2, fc1, fc2, heads, gate=None):
    """Pre-norm ViT block: x + MHSA(LN(x)), then + MLP(LN(.)).

    ``gate`` (0 or 1) multiplies both residual branches: 0 makes the block an identity, which lets the
    super-transformer skip a slot without control flow (with zero widths it costs two LayerNorms).
    """
    branch = attention(layer_norm(x, *norm1), q, k, v, projection, heads)
    x = x + (branch if gate is None else gate * branch)
    branch = mlp(layer_norm(x, *norm2), fc1, fc2)
    return x + (branch if gate is None else gate * branch)


def classify(x, norm, fc):
    """Final LayerNorm, the class token, the linear classifier."""
    return dense(layer_norm(x, *norm)[:, :1], *fc)[:, 0]


# --- slicing ---------------------------------------------------------------------------------------------
def take(variable, sizes: Sequence[Any], side: str):
    """The first (left) or last (right) ``sizes[i]`` entries of every axis i of ``variable``.

    ``None`` keeps an axis whole. Sizes may be Python ints or scalar int32 tensors (then one traced
    graph serves every size); few ops are created, since a super-transformer step slices ~100 weights.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    full = [int(d) for d in variable.shape]
    sizes = [full[i] if s is None else s for i, s in enumerate(sizes)]
    if all(isinstance(s, (int, np.integer)) for s in sizes):
        size = tf.constant([int(s) for s in sizes], tf.int32)
    else:
        size = tf.stack([tf.constant(int(s), tf.int32) if isinstance(s, (int, np.integer)) else s for s in sizes])
    begin = tf.zeros([len(full)], tf.int32) if side == LEFT else tf.constant(full, tf.int32) - size
    return tf.slice(variable, begin, size)


class _Layer(keras.layers.Layer):
    """A layer whose ``call`` Keras does not convert with AutoGraph.

    These layers have no Python control flow on tensors, and converting every call made tracing a
    super-transformer step and building a child model several times slower.
    """

    def _should_use_autograph(self):
        return False


def _kernel_init():
    return keras.initializers.TruncatedNormal(stddev=0.02)  # DeiT / ViTAS init of linear weights


def _bias_init():
    return keras.initializers.Zeros()


class SliceableDense(_Layer):
    """A linear layer of at most ``max_in`` x ``max_out``; a call uses a left or right slice of it."""

    def __init__(self, max_in: int, max_out: int, **kwargs):
        super().__init__(**kwargs)
        self.max_in, self.max_out = int(max_in), int(max_out)
        self.kernel = self.add_weight("kernel", [self.max_in, self.max_out], initializer=_kernel_init())
        self.bias = self.add_weight("bias", [self.max_out], initializer=_bias_init())

    def weights_for(self, in_dim, out_dim, side: str = LEFT):
        return [take(self.kernel, [in_dim, out_dim], side), take(self.bias, [out_dim], side)]

    def call(self, x, out_dim=None, side: str = LEFT):
        out_dim = self.max_out if out_dim is None else out_dim
        return dense(x, *self.weights_for(tf.shape(x)[-1], out_dim, side))

    def get_config(self):
        return {**super().get_config(), "max_in": self.max_in, "max_out": self.max_out}


class SliceableLayerNorm(_Layer):
    """LayerNorm over at most ``max_dim`` channels; a call normalises with a slice of gamma and beta."""

    def __init__(self, max_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.max_dim = int(max_dim)
        self.gamma = self.add_weight("gamma", [self.max_dim], initializer="ones")
        self.beta = self.add_weight("beta", [self.max_dim], initializer="zeros")

    def weights_for(self, dim, side: str = LEFT):
        return [take(self.gamma, [dim], side), take(self.beta, [dim], side)]

    def call(self, x, side: str = LEFT):
        return layer_norm(x, *self.weights_for(tf.shape(x)[-1], side))

    def get_config(self):
        return {**super().get_config(), "max_dim": self.max_dim}


class SliceablePatchEmbedding(_Layer):
    """One patch size's embedding: conv (stride = kernel = patch size), position embedding, class token.

    The conv and the position embedding are this patch size's own; the class token is its own too
    unless a shared one is passed (the private-class-token ablation).
    """

    def __init__(self, patch_size: int, image_size: int, in_channels: int, max_dim: int,
                 class_token: tf.Variable | None = None, **kwargs):
        super().__init__(**kwargs)
        if image_size % patch_size:
            raise ValueError(f"patch size {patch_size} does not divide the image size {image_size}")
        self.patch_size, self.image_size = int(patch_size), int(image_size)
        self.in_channels, self.max_dim = int(in_channels), int(max_dim)
        self.num_tokens = (image_size // patch_size) ** 2 + 1
        self.kernel = self.add_weight("kernel", [patch_size, patch_size, in_channels, max_dim],
                                      initializer=_kernel_init())
        self.bias = self.add_weight("bias", [max_dim], initializer=_bias_init())
        self.position = self.add_weight("position", [self.num_tokens, max_dim], initializer=_kernel_init())
        self.private_class_token = class_token is None
        self.class_token = (self.add_weight("class_token", [max_dim], initializer=_kernel_init())
                            if class_token is None else class_token)

    def weights_for(self, dim, side: str = LEFT):
        """[kernel, bias, class token, position] of width ``dim`` (the child PatchEmbedding's order)."""
        return [take(self.kernel, [None, None, None, dim], side), take(self.bias, [dim], side),
                take(self.class_token, [dim], side), take(self.position, [None, dim], side)]

    def call(self, images, dim, side: str = LEFT):
        return patch_tokens(images, *self.weights_for(dim, side), patch_size=self.patch_size)


class PatchEmbeddings(_Layer):
    """Every patch size's private embedding; a call runs the one picked by ``index`` (``tf.switch_case``)."""

    def __init__(self, patch_sizes: Sequence[int], image_size: int, in_channels: int, max_dim: int,
                 private_class_token: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.patch_sizes = tuple(int(p) for p in patch_sizes)
        self.shared_class_token = None if private_class_token else self.add_weight(
            "shared_class_token", [max_dim], initializer=_kernel_init())
        self.embeddings = [SliceablePatchEmbedding(p, image_size, in_channels, max_dim, self.shared_class_token,
                                                   name=f"patch{p}") for p in self.patch_sizes]

    def call(self, images, index, dim, side: str = LEFT):
        if len(self.embeddings) == 1 or isinstance(index, (int, np.integer)):
            return self.embeddings[int(index) if len(self.embeddings) > 1 else 0](images, dim, side)
        return tf.switch_case(index, [lambda e=e: e(images, dim, side) for e in self.embeddings])


class SliceableAttention(_Layer):
    """Multi-head self-attention with private q/k per head-count option and shared v / output projection.

    ``head_options[j]`` heads use ``queries[j]`` / ``keys[j]`` (ViTAS' private self-attention maps:
    the attention pattern of 3 heads is not forced to be a slice of that of 12); the values and the
    output projection are one sliceable weight each, shared by every option.
    """

    def __init__(self, max_dim: int, max_attention_dim: int, head_options: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.head_options = tuple(int(h) for h in head_options)
        self.queries = [SliceableDense(max_dim, max_attention_dim, name=f"q_heads{h}") for h in self.head_options]
        self.keys = [SliceableDense(max_dim, max_attention_dim, name=f"k_heads{h}") for h in self.head_options]
        self.values = SliceableDense(max_dim, max_attention_dim, name="v")
        self.projection = SliceableDense(max_attention_dim, max_dim, name="projection")

    def query_key(self, head_index, in_dim, attention_dim, side: str):
        """(q kernel, q bias, k kernel, k bias) of head option ``head_index``.

        A tensor index selects arithmetically (one-hot weighted sum of the options' slices): no control
        flow in the step, and the other options' variables get exactly zero gradient.
        """
        def option(j):
            return (*self.queries[j].weights_for(in_dim, attention_dim, side),
                    *self.keys[j].weights_for(in_dim, attention_dim, side))
        if len(self.head_options) == 1 or isinstance(head_index, (int, np.integer)):
            return option(int(head_index) if len(self.head_options) > 1 else 0)
        onehot = tf.one_hot(head_index, len(self.head_options))
        options = [option(j) for j in range(len(self.head_options))]
        return tuple(tf.add_n([onehot[j] * o[i] for j, o in enumerate(options)]) for i in range(4))

    def weights_for(self, head_index, in_dim, attention_dim, side: str = LEFT):
        qk = self.query_key(head_index, in_dim, attention_dim, side)
        return ([qk[0], qk[1]], [qk[2], qk[3]], self.values.weights_for(in_dim, attention_dim, side),
                self.projection.weights_for(attention_dim, in_dim, side))

    def call(self, x, head_index, attention_dim, side: str = LEFT):
        heads = tf.gather(tf.constant(self.head_options, tf.int32), head_index)
        return attention(x, *self.weights_for(head_index, tf.shape(x)[-1], attention_dim, side), heads=heads)


class SliceableTransformerBlock(_Layer):
    """A block slot of the super-transformer: LN, sliceable attention, LN, sliceable MLP."""

    def __init__(self, max_dim: int, head_options: Sequence[int], max_attention_dim: int, max_mlp_dim: int,
                 **kwargs):
        super().__init__(**kwargs)
        self.head_options = tuple(int(h) for h in head_options)
        self.norm1 = SliceableLayerNorm(max_dim, name="norm1")
        self.attention = SliceableAttention(max_dim, max_attention_dim, head_options, name="attention")
        self.norm2 = SliceableLayerNorm(max_dim, name="norm2")
        self.fc1 = SliceableDense(max_dim, max_mlp_dim, name="fc1")
        self.fc2 = SliceableDense(max_mlp_dim, max_dim, name="fc2")

    def weights_for(self, dim, head_index, attention_dim, mlp_dim, side: str = LEFT):
        """Weights in the child TransformerBlock's order: norm1, q, k, v, projection, norm2, fc1, fc2."""
        q, k, v, projection = self.attention.weights_for(head_index, dim, attention_dim, side)
        return [self.norm1.weights_for(dim, side), q, k, v, projection, self.norm2.weights_for(dim, side),
                self.fc1.weights_for(dim, mlp_dim, side), self.fc2.weights_for(mlp_dim, dim, side)]

    def call(self, x, head_index, attention_dim, mlp_dim, side: str = LEFT, gate=None):
        heads = tf.gather(tf.constant(self.head_options, tf.int32), head_index)
        return transformer_block(x, *self.weights_for(tf.shape(x)[-1], head_index, attention_dim, mlp_dim, side),
                                 heads=heads, gate=gate)

    def option_layers(self, head_index: int) -> list[keras.layers.Layer]:
        """The layers head option ``head_index`` owns alone (its private q and k)."""
        return [self.attention.queries[head_index], self.attention.keys[head_index]]

    def shared_layers(self) -> list[keras.layers.Layer]:
        """The layers every head option of this block uses."""
        a = self.attention
        return [self.norm1, a.values, a.projection, self.norm2, self.fc1, self.fc2]


class SliceableClassifier(_Layer):
    """Final sliceable LayerNorm and a classifier whose input is sliced (its classes are all kept)."""

    def __init__(self, max_dim: int, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.norm = SliceableLayerNorm(max_dim, name="norm")
        self.fc = SliceableDense(max_dim, num_classes, name="fc")

    def weights_for(self, dim, side: str = LEFT):
        return [self.norm.weights_for(dim, side), self.fc.weights_for(dim, self.num_classes, side)]

    def call(self, x, side: str = LEFT):
        return classify(x, *self.weights_for(tf.shape(x)[-1], side))


# --- the child network's layers ----------------------------------------------------------------------------
def _flat(pairs) -> list:
    return [w for pair in pairs for w in pair]


@keras.utils.register_keras_serializable(package="tfnas")
class PatchEmbedding(_Layer):
    """Patch embedding of one patch size and width: conv kernel, bias, class token, position embedding."""

    def __init__(self, patch_size: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.patch_size, self.dim = int(patch_size), int(dim)

    def build(self, input_shape):
        h, w, c = (int(d) for d in input_shape[1:])
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f"patch size {self.patch_size} does not divide the image size {h}x{w}")
        tokens = (h // self.patch_size) * (w // self.patch_size) + 1
        p = self.patch_size
        self.kernel = self.add_weight("kernel", [p, p, c, self.dim], initializer=_kernel_init())
        self.bias = self.add_weight("bias", [self.dim], initializer=_bias_init())
        self.class_token = self.add_weight("class_token", [self.dim], initializer=_kernel_init())
        self.position = self.add_weight("position", [tokens, self.dim], initializer=_kernel_init())
        super().build(input_shape)

    def call(self, images):
        return patch_tokens(images, self.kernel, self.bias, self.class_token, self.position, self.patch_size)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "dim": self.dim}


@keras.utils.register_keras_serializable(package="tfnas")
class TransformerBlock(_Layer):
    """A ViT block of fixed sizes: ``heads`` heads over ``attention_dim`` channels, an MLP of ``mlp_dim``."""

    def __init__(self, heads: int, attention_dim: int, mlp_dim: int, **kwargs):
        super().__init__(**kwargs)
        if attention_dim % heads:
            raise ValueError(f"attention width {attention_dim} is not divisible by {heads} heads")
        self.heads, self.attention_dim, self.mlp_dim = int(heads), int(attention_dim), int(mlp_dim)

    def build(self, input_shape):
        d, a, m = int(input_shape[-1]), self.attention_dim, self.mlp_dim

        def pair(name, n_in, n_out):
            return [self.add_weight(f"{name}/kernel", [n_in, n_out], initializer=_kernel_init()),
                    self.add_weight(f"{name}/bias", [n_out], initializer=_bias_init())]

        def norm(name):
            return [self.add_weight(f"{name}/gamma", [d], initializer="ones"),
                    self.add_weight(f"{name}/beta", [d], initializer="zeros")]

        self.parts = [norm("norm1"), pair("q", d, a), pair("k", d, a), pair("v", d, a), pair("projection", a, d),
                      norm("norm2"), pair("fc1", d, m), pair("fc2", m, d)]
        super().build(input_shape)

    def call(self, x):
        return transformer_block(x, *self.parts, heads=self.heads)

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "attention_dim": self.attention_dim,
                "mlp_dim": self.mlp_dim}


@keras.utils.register_keras_serializable(package="tfnas")
class ClassifierHead(_Layer):
    """Final LayerNorm -> class token -> linear classifier."""

    def __init__(self, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)

    def build(self, input_shape):
        d = int(input_shape[-1])
        self.norm = [self.add_weight("norm/gamma", [d], initializer="ones"),
                     self.add_weight("norm/beta", [d], initializer="zeros")]
        self.fc = [self.add_weight("fc/kernel", [d, self.num_classes], initializer=_kernel_init()),
                   self.add_weight("fc/bias", [self.num_classes], initializer=_bias_init())]
        super().build(input_shape)

    def call(self, x):
        return classify(x, self.norm, self.fc)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def flat_weights(parts) -> list:
    """A sliceable layer's ``weights_for`` result ([[w, b], ...] or [w, ...]) as the child's weight list."""
    return _flat(parts) if parts and isinstance(parts[0], (list, tuple)) else list(parts)
