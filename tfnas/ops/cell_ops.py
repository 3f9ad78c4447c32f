"""Per-edge candidate operations of the DARTS and NAS-Bench-201 cell spaces (Keras layers).

These are the layers a child network is built from. The differentiable supernet computes the
same ops batched over edges (tfnas/supernets/batched_ops.py); tests check the two agree.

Conventions follow the reference implementations (DARTS, quark0/darts; NAS-Bench-201,
D-X-Y/AutoDL-Projects): convolutions are ReLU -> conv -> BN, ``sep_conv`` applies
(ReLU, depthwise, pointwise, BN) twice, ``dil_conv`` once with dilation 2, BN momentum 0.1 in
PyTorch terms (0.9 in Keras terms) and epsilon 1e-5. ``affine=False`` is the search setting.
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

from tfnas.ops.conv_utils import depthwise_conv

keras = tf.keras

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def batch_norm(affine: bool, name: str | None = None) -> keras.layers.Layer:
    return keras.layers.BatchNormalization(
        momentum=BN_MOMENTUM, epsilon=BN_EPSILON, center=affine, scale=affine, name=name
    )


class DepthwiseConv(keras.layers.Layer):
    """Depthwise convolution that allows stride and dilation together (see conv_utils)."""

    def __init__(self, kernel_size: int, stride: int = 1, dilation: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        self.stride = stride
        self.dilation = dilation

    def build(self, input_shape):
        self.kernel = self.add_weight(
            "depthwise_kernel",
            shape=(self.kernel_size, self.kernel_size, int(input_shape[-1]), 1),
            initializer="glorot_uniform",
        )

    def call(self, x):
        return depthwise_conv(x, self.kernel, self.stride, self.dilation)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "stride": self.stride, "dilation": self.dilation}


class ReLUConvBN(keras.layers.Layer):
    """ReLU -> k x k convolution -> BN (NAS-Bench-201 ``nor_conv_k``, DARTS preprocessing)."""

    def __init__(self, filters: int, kernel_size: int, stride: int = 1, affine: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.stride, self.affine = filters, kernel_size, stride, affine
        self.conv = keras.layers.Conv2D(filters, kernel_size, stride, padding="same", use_bias=False)
        self.bn = batch_norm(affine)

    def call(self, x, training=None):
        return self.bn(self.conv(tf.nn.relu(x)), training=training)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "stride": self.stride, "affine": self.affine}


class DilConv(keras.layers.Layer):
    """ReLU -> depthwise k x k (dilated) -> pointwise 1x1 -> BN."""

    def __init__(self, filters: int, kernel_size: int, stride: int = 1, dilation: int = 2,
                 affine: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.stride = filters, kernel_size, stride
        self.dilation, self.affine = dilation, affine
        self.depthwise = DepthwiseConv(kernel_size, stride, dilation)
        self.pointwise = keras.layers.Conv2D(filters, 1, use_bias=False)
        self.bn = batch_norm(affine)

    def call(self, x, training=None):
        return self.bn(self.pointwise(self.depthwise(tf.nn.relu(x))), training=training)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "stride": self.stride, "dilation": self.dilation, "affine": self.affine}


class SepConv(keras.layers.Layer):
    """Two stacked (ReLU, depthwise k x k, pointwise, BN) stages; the first carries the stride."""

    def __init__(self, filters: int, kernel_size: int, stride: int = 1, affine: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.stride, self.affine = filters, kernel_size, stride, affine
        self.stage1: DilConv | None = None
        self.stage2 = DilConv(filters, kernel_size, 1, 1, affine)

    def build(self, input_shape):
        self.stage1 = DilConv(int(input_shape[-1]), self.kernel_size, self.stride, 1, self.affine)

    def call(self, x, training=None):
        return self.stage2(self.stage1(x, training=training), training=training)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "stride": self.stride, "affine": self.affine}


class FactorizedReduce(keras.layers.Layer):
    """ReLU -> two stride-2 1x1 convolutions offset by one pixel -> concat -> BN."""

    def __init__(self, filters: int, affine: bool = True, **kwargs):
        super().__init__(**kwargs)
        if filters % 2:
            raise ValueError(f"FactorizedReduce needs an even number of filters, got {filters}")
        self.filters, self.affine = filters, affine
        self.conv1 = keras.layers.Conv2D(filters // 2, 1, 2, padding="valid", use_bias=False)
        self.conv2 = keras.layers.Conv2D(filters // 2, 1, 2, padding="valid", use_bias=False)
        self.bn = batch_norm(affine)

    def call(self, x, training=None):
        x = tf.nn.relu(x)
        shifted = tf.pad(x[:, 1:, 1:, :], [[0, 0], [0, 1], [0, 1], [0, 0]])
        out = tf.concat([self.conv1(x), self.conv2(shifted)], axis=-1)
        return self.bn(out, training=training)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "affine": self.affine}


class Zero(keras.layers.Layer):
    """The ``none`` op: zeros of the output shape (strided when the edge reduces)."""

    def __init__(self, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.stride = stride

    def call(self, x):
        return tf.zeros_like(x[:, :: self.stride, :: self.stride, :])

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


class Identity(keras.layers.Layer):
    def call(self, x):
        return x


class Pool(keras.layers.Layer):
    """3x3 max or average pooling (average excludes padding), optionally followed by BN.

    DARTS puts an affine-free BN after pooling during search; NAS-Bench-201 has none.
    """

    def __init__(self, kind: str, stride: int = 1, bn: bool = False, affine: bool = False, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("max", "avg"):
            raise ValueError(f"pool kind must be 'max' or 'avg', got {kind!r}")
        self.kind, self.stride, self.use_bn, self.affine = kind, stride, bn, affine
        self.bn = batch_norm(affine) if bn else None

    def call(self, x, training=None):
        pool = tf.nn.max_pool2d if self.kind == "max" else tf.nn.avg_pool2d
        y = pool(x, 3, self.stride, "SAME")
        return self.bn(y, training=training) if self.bn is not None else y

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "stride": self.stride,
                "bn": self.use_bn, "affine": self.affine}


OpFactory = Callable[[int, int, bool], keras.layers.Layer]


def _skip(filters: int, stride: int, affine: bool) -> keras.layers.Layer:
    return Identity() if stride == 1 else FactorizedReduce(filters, affine)


DARTS_OPS: dict[str, OpFactory] = {
    "none": lambda c, s, a: Zero(s),
    "max_pool_3x3": lambda c, s, a: Pool("max", s, bn=not a, affine=False),
    "avg_pool_3x3": lambda c, s, a: Pool("avg", s, bn=not a, affine=False),
    "skip_connect": _skip,
    "sep_conv_3x3": lambda c, s, a: SepConv(c, 3, s, a),
    "sep_conv_5x5": lambda c, s, a: SepConv(c, 5, s, a),
    "dil_conv_3x3": lambda c, s, a: DilConv(c, 3, s, 2, a),
    "dil_conv_5x5": lambda c, s, a: DilConv(c, 5, s, 2, a),
}
"""DARTS candidates; ``affine=False`` means search mode, where pools get an affine-free BN."""

NB201_OPS: dict[str, OpFactory] = {
    "none": lambda c, s, a: Zero(s),
    "skip_connect": _skip,
    "nor_conv_1x1": lambda c, s, a: ReLUConvBN(c, 1, s, a),
    "nor_conv_3x3": lambda c, s, a: ReLUConvBN(c, 3, s, a),
    "avg_pool_3x3": lambda c, s, a: Pool("avg", s),
}
"""NAS-Bench-201 candidates (cells keep channels, so pooling needs no preprocessing)."""


def is_parameter_free(op_name: str) -> bool:
    """Ops the DARTS collapse literature counts as parameter-free (skip, pools, none)."""
    return op_name in ("none", "skip_connect", "max_pool_3x3", "avg_pool_3x3")
