"""Binary candidate operations (Larq layers) for BATS and for naively binarised DARTS cells.

Every op is returned as a small functional ``keras.Model`` built from Larq/Keras layers, so it
composes into a functional child network *and* into a subclassed search network, and Larq's
profiler (``lq.models.summary``) counts its binary and real multiply-accumulates (it looks into
nested models, not into custom layers).

BATS ops (Bulat et al. 2020; structure as in the first author's binary-networks-pytorch,
bnn/models/layers/bats_ops.py):
  group_conv_k      BN -> sign -> grouped k x k binary conv -> PReLU -> channel shuffle (+ x)
  dil_group_conv_k  the same with dilation 2
  skip_connect      identity, or on stride-2 edges the real-valued FactorizedReduce
                    BN -> two offset stride-2 1x1 convs -> concat -> PReLU
  max/avg_pool_3x3  pooling (followed by an affine-free BN only in search, as DARTS)
  "+ x": an identity shortcut around every stride-1 binary op (real-valued).
The library calls the grouped ops ``sep_conv_k``/``dil_conv_k``; they are a single grouped
convolution, not a separable one, so this space names them for what they are.

Cell preprocessing: BN -> sign -> 1x1 binary conv -> PReLU (+ x when shapes allow), and the
real-valued FactorizedReduce after a reduction cell.

Naive binary DARTS ops (the baseline BATS argues against): the DARTS ops with every
convolution binarised -- each ReLU -> conv becomes sign -> binary conv (a ReLU before sign would
make every input +1), depthwise convolutions included, BN where DARTS has it.

Padding: binary convolutions pad their +-1 input with +1 (Larq ``pad_values=1``), not with 0.
0 is not a binary value; LCE emulates zero padding with a correction that is wrong when the
kernel's extent exceeds the feature map (checked with larq-compute-engine 0.16: a 5x5 dilation-2
conv on an 8x8 map, as BATS reduction cells have on CIFAR, gives different outputs than Keras),
and one-padding is also LCE's fast path. The library pads with 0 (PyTorch), a documented deviation.

Binarisation: activations sign(x) with the straight-through estimator clipped at |x| <= 1
(larq ``ste_sign``); weights sign(W) * mean|W| per output channel (larq
``magnitude_aware_sign``; the library's XNORWeightBinarizer computes the same scale), latent
weights clipped to [-1, 1] (larq ``weight_clip``). A :class:`Binarization` with tf.Variable
fractions blends real and binary values, f * binary(x) + (1 - f) * x, so search and training
schedules (progressive binarisation, the two-stage recipe) change it inside a traced step;
``None`` means fully binary with Larq's own quantizers, which is what LCE export sees.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import tensorflow as tf

import larq as lq

from tfnas.ops.cell_ops import batch_norm
from tfnas.ops.channels import channel_shuffle
from tfnas.ops.grouped_conv import native_grouped_conv_trainable

keras = tf.keras

PRELU_INIT = 0.25  # PyTorch's nn.PReLU default, which the library uses
LCE_CHANNELS_PER_GROUP = 32
BINARY_PAD_VALUE = 1.0
"""A grouped binary convolution converts to an LCE binary op only with a multiple of 32 input
channels per group (larq-compute-engine 0.16); otherwise it stays a float convolution."""

BATS_CONV_OPS = ("group_conv_3x3", "group_conv_5x5", "dil_group_conv_3x3", "dil_group_conv_5x5")
NAIVE_CONV_OPS = ("sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")


# --- quantizers ----------------------------------------------------------------------------
def sign(x: tf.Tensor) -> tf.Tensor:
    """Binary activations: larq's sign (sign(0) = +1) with the STE zeroed where |x| > 1."""
    return lq.quantizers.ste_sign(x)


def binary_kernel(w: tf.Tensor, axes: tuple[int, ...]) -> tf.Tensor:
    """sign(W) * mean|W| over ``axes`` (the scale is a constant for the gradient, as Larq and the
    library's XNOR binarizer treat it)."""
    scale = tf.stop_gradient(tf.reduce_mean(tf.abs(w), axis=axes, keepdims=True))
    return scale * lq.quantizers.ste_sign(w)


class ChannelwiseMagnitudeSign(lq.quantizers.Quantizer):
    """sign(W) * mean|W| per channel of a depthwise kernel [k, k, C, 1].

    Larq's magnitude_aware_sign averages over every axis but the last, which for a depthwise
    kernel is a single scale for all channels; per channel matches the per-output-channel scale
    of the other binary convolutions (and what the batched supernet computes per edge).
    """

    precision = 1

    def call(self, inputs):
        return binary_kernel(inputs, (0, 1))


class Blend:
    """A quantizer that is ``fraction`` binary: f * binary(x) + (1 - f) * x.

    Not a Keras layer on purpose: ``fraction`` belongs to whoever schedules it (search model,
    trainer), so it is neither a weight of the layers using it nor in their checkpoints. At f = 1
    the output is exactly binary(x); at f = 0 exactly x.
    """

    precision = 1

    def __init__(self, binary_fn: Callable[[tf.Tensor], tf.Tensor], fraction: tf.Variable):
        self.binary_fn, self.fraction = binary_fn, fraction

    def __call__(self, x):
        f = tf.cast(self.fraction, x.dtype)
        return f * self.binary_fn(x) + (1.0 - f) * x


@dataclasses.dataclass(frozen=True)
class Binarization:
    """How binary activations and weights are: 1.0 fully, 0.0 real, or a tf.Variable in [0, 1]."""

    activations: float | tf.Variable = 1.0
    weights: float | tf.Variable = 1.0

    def activation_quantizer(self):
        return _quantizer(self.activations, "ste_sign", sign)

    def kernel_quantizer(self):
        return _quantizer(self.weights, "magnitude_aware_sign", lambda w: binary_kernel(w, (0, 1, 2)))

    def depthwise_quantizer(self):
        return _quantizer(self.weights, ChannelwiseMagnitudeSign(), lambda w: binary_kernel(w, (0, 1)))


FULLY_BINARY = Binarization()


def pad_value(binarization: Binarization) -> float:
    """+1 for (partly) binary activations, 0 for real-valued ones (see the module docstring)."""
    return 0.0 if isinstance(binarization.activations, (int, float)) and binarization.activations == 0 else BINARY_PAD_VALUE


def _quantizer(fraction, static, binary_fn):
    if isinstance(fraction, (int, float)):
        if fraction == 1.0:
            return static
        if fraction == 0.0:
            return None
        raise ValueError(f"a fixed binarisation fraction must be 0 or 1, got {fraction}; use a tf.Variable")
    return Blend(binary_fn, fraction)


# --- configuration -------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BinaryOpConfig:
    """What every binary op of one network shares.

    groups: groups of each grouped binary convolution (the library's default is 12).
    shuffle_groups: groups of the channel shuffle after it (the library shuffles with 4).
    affine: BN with scale and offset (child networks) or without (search, as DARTS).
    binarization: how binary the quantizers are (None = fully binary, Larq's quantizers).
    binary_preprocess: the cells' 1x1 input convolutions are binary (as the library's
      prepare_binary_model leaves them) or real-valued.
    binary_downsample: FactorizedReduce (stride-2 skip, input after a reduction cell) binary or
      real-valued (default: real, as the paper keeps downsampling real [U]).
    fast_grouped_conv: grouped binary convs as GroupedQuantConv2D (fast training on CPU; the
      layers' weights are the same, so a network trained with it loads into one built without).
    """

    groups: int = 12
    shuffle_groups: int = 4
    affine: bool = True
    binarization: Binarization | None = None
    binary_preprocess: bool = True
    binary_downsample: bool = False
    fast_grouped_conv: bool = False  # GroupedQuantConv2D for training; never for export

    @property
    def quantizers(self) -> Binarization:
        return self.binarization or FULLY_BINARY


# --- small layers --------------------------------------------------------------------------
class ChannelShuffle(keras.layers.Layer):
    """ShuffleNet's channel shuffle: channel i*(C/g) + j moves to j*g + i."""

    def __init__(self, groups: int, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, x):
        return channel_shuffle(x, self.groups)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


class Subsample(keras.layers.Layer):
    """Every ``stride``-th row and column: a stride-2 dilated conv as a stride-1 one, subsampled.

    Keras (and TFLite) refuse stride > 1 with dilation > 1; a stride-1 SAME convolution read at
    rows 0, 2, 4, ... is what PyTorch's symmetric-padding stride-2 dilated convolution computes.
    """

    def __init__(self, stride: int, **kwargs):
        super().__init__(**kwargs)
        self.stride = stride

    def call(self, x):
        return x[:, ::self.stride, ::self.stride, :]

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


class ShiftedPad(keras.layers.Layer):
    """x[1:, 1:] padded back to H x W with a zero row/column (the offset path of FactorizedReduce)."""

    def call(self, x):
        return tf.pad(x[:, 1:, 1:, :], [[0, 0], [0, 1], [0, 1], [0, 0]])


def prelu(name: str) -> keras.layers.Layer:
    return keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(PRELU_INIT), shared_axes=[1, 2],
                              name=name)


class GroupedQuantConv2D(lq.layers.QuantConv2D):
    """QuantConv2D whose grouped convolution runs as a plain TensorFlow convolution (training only).

    Keras routes grouped convolutions through an XLA-compiled function; on CPU that made training
    a BATS network with 2 groups ~15x slower per step than with 1 (6.5 s vs 0.44 s, 64 vs 32
    channels). TensorFlow's own grouped convolution (oneDNN, cuDNN) computes the same thing, and
    where it cannot be differentiated an exact per-group split is used. Export must not use it:
    without the compiled function the TFLite converter splits the grouped convolution into float
    per-group convolutions before LCE can make it a grouped LceBconv2d, so networks rebuilt for
    evaluation and export keep Larq's QuantConv2D (``BinaryOpConfig.fast_grouped_conv=False``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with tf.init_scope():  # the probe runs eagerly once, even when the layer is made inside a graph
            self._native_groups = self.groups == 1 or native_grouped_conv_trainable()

    def _jit_compiled_convolution_op(self, inputs, kernel):
        if self._native_groups:
            return self.convolution_op(inputs, kernel)
        xs, ks = tf.split(inputs, self.groups, axis=-1), tf.split(kernel, self.groups, axis=-1)
        return tf.concat([self.convolution_op(a, b) for a, b in zip(xs, ks)], axis=-1)


def binary_conv(filters: int, kernel_size: int, config: BinaryOpConfig, name: str, strides: int = 1,
                dilation: int = 1, groups: int = 1) -> lq.layers.QuantConv2D:
    q = config.quantizers
    layer = GroupedQuantConv2D if config.fast_grouped_conv and groups > 1 else lq.layers.QuantConv2D
    return layer(filters, kernel_size, strides=strides, padding="same", dilation_rate=dilation,
                                 pad_values=pad_value(q), groups=groups, use_bias=False,
                                 input_quantizer=q.activation_quantizer(),
                                 kernel_quantizer=q.kernel_quantizer(), kernel_constraint="weight_clip",
                                 name=name)


def real_conv(filters: int, kernel_size: int, name: str, strides: int = 1, padding: str = "same",
              groups: int = 1) -> lq.layers.QuantConv2D:
    """A float convolution as a Larq layer without quantizers, so Larq's profile counts its MACs."""
    return lq.layers.QuantConv2D(filters, kernel_size, strides=strides, padding=padding, groups=groups,
                                 use_bias=False, name=name)


def _input(input_shape, name: str) -> tf.Tensor:
    return keras.Input(shape=tuple(input_shape), name=f"{name}_in")


# --- BATS ops ------------------------------------------------------------------------------
def grouped_binary_conv_op(channels: int, kernel_size: int, stride: int, dilation: int, input_shape,
                           config: BinaryOpConfig, name: str) -> keras.Model:
    """BN -> sign -> grouped binary conv -> PReLU -> channel shuffle, + x on stride-1 edges."""
    if channels % config.groups:
        raise ValueError(f"{name}: {channels} channels cannot be split into {config.groups} groups")
    x = _input(input_shape, name)
    y = batch_norm(config.affine, name="bn")(x)
    conv_stride = 1 if dilation > 1 else stride
    y = binary_conv(channels, kernel_size, config, "binary_conv", conv_stride, dilation, config.groups)(y)
    if dilation > 1 and stride > 1:
        y = Subsample(stride, name="subsample")(y)
    y = prelu("prelu")(y)
    y = ChannelShuffle(config.shuffle_groups, name="shuffle")(y)
    if stride == 1 and int(input_shape[-1]) == channels:
        y = keras.layers.Add(name="shortcut")([x, y])
    return keras.Model(x, y, name=name)


def factorized_reduce(channels: int, input_shape, config: BinaryOpConfig, name: str,
                      binary: bool | None = None) -> keras.Model:
    """Halve the resolution: BN -> two offset stride-2 1x1 convs -> concat -> PReLU (real by default).

    Binary (``binary=True``, the naive space): sign -> two binary 1x1 convs -> concat -> BN, the
    DARTS op with its ReLU turned into the sign.
    """
    if channels % 2:
        raise ValueError(f"{name}: FactorizedReduce needs an even number of channels, got {channels}")
    binary = config.binary_downsample if binary is None else binary
    x = _input(input_shape, name)
    if binary:
        conv = lambda n: binary_conv(channels // 2, 1, config, n, strides=2)  # noqa: E731
        a, b = conv("binary_conv1")(x), conv("binary_conv2")(ShiftedPad(name="shift")(x))
        y = keras.layers.Concatenate(name="concat")([a, b])
        y = batch_norm(config.affine, name="bn")(y)
    else:
        h = batch_norm(config.affine, name="bn")(x)
        conv = lambda n: real_conv(channels // 2, 1, n, strides=2, padding="valid")  # noqa: E731
        a, b = conv("conv1")(h), conv("conv2")(ShiftedPad(name="shift")(h))
        y = prelu("prelu")(keras.layers.Concatenate(name="concat")([a, b]))
    return keras.Model(x, y, name=name)


def bats_preprocess(channels: int, input_shape, config: BinaryOpConfig, name: str) -> keras.Model:
    """The cell input 1x1: BN -> sign -> 1x1 conv -> PReLU, + x when input and output widths agree.

    Binary by default (an ungrouped binary conv always converts to an LCE binary op);
    ``binary_preprocess=False`` keeps it real-valued.
    """
    x = _input(input_shape, name)
    y = batch_norm(config.affine, name="bn")(x)
    if config.binary_preprocess:
        y = binary_conv(channels, 1, config, "binary_conv")(y)
    else:
        y = real_conv(channels, 1, "conv")(y)
    y = prelu("prelu")(y)
    if int(input_shape[-1]) == channels:
        y = keras.layers.Add(name="shortcut")([x, y])
    return keras.Model(x, y, name=name)


def pool_op(kind: str, stride: int, input_shape, affine: bool, name: str) -> keras.Model:
    """3x3 max/avg pooling (average excludes padding); an affine-free BN follows it in search."""
    x = _input(input_shape, name)
    layer = keras.layers.MaxPool2D if kind == "max" else keras.layers.AveragePooling2D
    y = layer(3, stride, padding="same", name=f"{kind}_pool")(x)
    if not affine:
        y = batch_norm(False, name="bn")(y)
    return keras.Model(x, y, name=name)


def identity_op(input_shape, name: str) -> keras.Model:
    x = _input(input_shape, name)
    return keras.Model(x, keras.layers.Identity(name="identity")(x), name=name)


def bats_op(op: str, channels: int, stride: int, input_shape, config: BinaryOpConfig, name: str) -> keras.Model:
    """The BATS candidate ``op`` on an edge of ``stride`` (names: tfnas.spaces.bats.OPS)."""
    if op.startswith("group_conv_") or op.startswith("dil_group_conv_"):
        k = int(op[-1])
        dilation = 2 if op.startswith("dil_") else 1
        return grouped_binary_conv_op(channels, k, stride, dilation, input_shape, config, name)
    return _shared_op(op, channels, stride, input_shape, config, name)


def _shared_op(op, channels, stride, input_shape, config, name):
    if op == "skip_connect":
        return identity_op(input_shape, name) if stride == 1 else factorized_reduce(channels, input_shape, config, name)
    if op in ("max_pool_3x3", "avg_pool_3x3"):
        return pool_op(op[:3], stride, input_shape, config.affine, name)
    raise ValueError(f"unknown binary op {op!r}")


# --- naive binary DARTS ops ------------------------------------------------------------------
def naive_dil_stage(x: tf.Tensor, channels: int, kernel_size: int, stride: int, dilation: int,
                    config: BinaryOpConfig, prefix: str) -> tf.Tensor:
    """sign -> binary depthwise k x k -> sign -> binary 1x1 -> BN (one DARTS dil_conv stage)."""
    q = config.quantizers
    conv_stride = 1 if dilation > 1 else stride
    y = lq.layers.QuantDepthwiseConv2D(kernel_size, strides=conv_stride, padding="same", dilation_rate=dilation,
                                       pad_values=pad_value(q),
                                       use_bias=False, input_quantizer=q.activation_quantizer(),
                                       depthwise_quantizer=q.depthwise_quantizer(),
                                       depthwise_constraint="weight_clip", name=f"{prefix}binary_dw")(x)
    if dilation > 1 and stride > 1:
        y = Subsample(stride, name=f"{prefix}subsample")(y)
    y = binary_conv(channels, 1, config, f"{prefix}binary_pw")(y)
    return batch_norm(config.affine, name=f"{prefix}bn")(y)


def naive_op(op: str, channels: int, stride: int, input_shape, config: BinaryOpConfig, name: str) -> keras.Model:
    """A DARTS op with every convolution binarised (``--naive``)."""
    if op.startswith("sep_conv_") or op.startswith("dil_conv_"):
        k = int(op[-1])
        x = _input(input_shape, name)
        if op.startswith("sep_"):
            y = naive_dil_stage(x, int(input_shape[-1]), k, stride, 1, config, "stage1_")
            y = naive_dil_stage(y, channels, k, 1, 1, config, "stage2_")
        else:
            y = naive_dil_stage(x, channels, k, stride, 2, config, "")
        return keras.Model(x, y, name=name)
    if op == "skip_connect" and stride == 2:
        return factorized_reduce(channels, input_shape, config, name, binary=True)
    return _shared_op(op, channels, stride, input_shape, config, name)


def naive_preprocess(channels: int, input_shape, config: BinaryOpConfig, name: str) -> keras.Model:
    """DARTS' ReLU -> 1x1 conv -> BN input preprocessing, binarised: sign -> binary 1x1 -> BN."""
    x = _input(input_shape, name)
    y = binary_conv(channels, 1, config, "binary_conv")(x)
    return keras.Model(x, batch_norm(config.affine, name="bn")(y), name=name)


# --- introspection (tests, export checks) ----------------------------------------------------
def binary_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every Larq conv/dense layer of ``model`` (nested models included) with binary inputs and kernel."""
    out = []
    for layer in _flatten(model):
        if isinstance(layer, (lq.layers.QuantConv2D, lq.layers.QuantDepthwiseConv2D, lq.layers.QuantDense)):
            kernel_q = getattr(layer, "kernel_quantizer", None) or getattr(layer, "depthwise_quantizer", None)
            if _precision(layer.input_quantizer) == 1 and _precision(kernel_q) == 1:
                out.append(layer)
    return out


def _precision(quantizer) -> int | None:
    return getattr(quantizer, "precision", None) if quantizer is not None else None


def _flatten(model: keras.layers.Layer):
    for layer in getattr(model, "layers", []):
        yield layer
        if isinstance(layer, keras.Model):
            yield from _flatten(layer)
