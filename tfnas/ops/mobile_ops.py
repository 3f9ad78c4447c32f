"""Mobile candidate layers of the HURRICANE space: ShuffleNetV2 units, Shuffle-Xception, MobileNetV2
inverted residuals and DARTS-style separable convolutions, each optionally with squeeze-excite.

Every op is a Keras layer built from plain Conv2D / DepthwiseConv2D / BatchNormalization / ReLU /
concat / reshape-transpose, so it converts to TFLite builtins that LiteRT's XNNPACK CPU path runs.
An op is named by a string (``OPS``), e.g. ``mbconv_k5_e3_hse``; ``build_op(name, out_channels,
stride)`` returns the layer. The same classes are used by the child network and by every path of
the single-path supernet, so a supernet path and the child built from its genotype compute the same
function with the same weights.

Conventions (SPOS / ShuffleNetV2 reference code, megvii-model/SinglePathOneShot; MobileNetV2):
* ShuffleNetV2 unit, stride 1 with equal channels: split channels in halves, the second half goes
  through 1x1-BN-ReLU, depthwise kxk-BN, 1x1-BN-ReLU, concat with the first half, channel shuffle.
  Otherwise (stride 2 or a channel change) the whole input feeds a projection branch (depthwise
  kxk-BN, 1x1-BN-ReLU, keeping the input's channels as in SPOS) and the main branch, which produces
  the remaining output channels. Main-branch width is half the output channels (SPOS).
* Shuffle-Xception: the main branch is three (depthwise 3x3-BN, 1x1-BN-ReLU) stages.
* MobileNetV2 inverted residual: 1x1 expansion by e (skipped for e = 1), depthwise kxk, both
  BN-ReLU6, [SE], 1x1 linear projection-BN, identity shortcut when stride 1 and channels equal.
* sep_conv_3x3 (DARTS): two (ReLU, depthwise 3x3, 1x1, BN) stages, the first strided.
* Squeeze-excite: global pool, 1x1 to channels/4 (rounded to 8), ReLU, 1x1 back, gate, scale.
  Gate ``sigmoid`` (``_se``) or hard sigmoid ReLU6(x + 3) / 6 (``_hse``, MobileNetV3). It sits
  after the depthwise stage in inverted residuals (MnasNet/MobileNetV3), at the end of the main
  branch in shuffle units (ShuffleNetV2+), and after the last BN of sep_conv.
"""
from __future__ import annotations

import tensorflow as tf

from tfnas.ops.channels import channel_shuffle

keras = tf.keras

BN_MOMENTUM = 0.9  # PyTorch's 0.1
BN_EPSILON = 1e-5
SE_REDUCTION = 4

# The vocabulary (names, parsing, channel rounding) is TensorFlow-free and shared with the spaces.
from tfnas.ops.mobile_vocabulary import (BASE_OPS, MBCONV_EXPANSIONS, MBCONV_KERNELS, OPS, SE_GATES,  # noqa: E402,F401
                                         SHUFFLE_KERNELS, OpSpec, UnknownOpError, make_divisible, parse_op)


# --- building blocks --------------------------------------------------------------------------------
def batch_norm(name: str) -> keras.layers.BatchNormalization:
    """The mobile ops' BN (momentum and epsilon of the MobileNet/ShuffleNet recipes); stems and heads use it too."""
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _conv1x1(filters: int, name: str) -> keras.layers.Conv2D:
    return keras.layers.Conv2D(filters, 1, use_bias=False, name=name)


def _dw(kernel: int, stride: int, name: str) -> keras.layers.DepthwiseConv2D:
    return keras.layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=name)


def hard_sigmoid(x: tf.Tensor) -> tf.Tensor:
    """ReLU6(x + 3) / 6, the MobileNetV3 gate (cheap on integer hardware)."""
    return tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


@keras.utils.register_keras_serializable(package="tfnas")
class SqueezeExcite(keras.layers.Layer):
    """Channel attention: pool, 1x1 reduce + ReLU, 1x1 expand, sigmoid or hard-sigmoid gate, scale."""

    def __init__(self, gate: str = "se", reduction: int = SE_REDUCTION, **kwargs):
        super().__init__(**kwargs)
        if gate not in ("se", "hse"):
            raise ValueError(f"squeeze-excite gate must be 'se' (sigmoid) or 'hse' (h-sigmoid), got {gate!r}")
        self.gate, self.reduction = gate, reduction

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.reduce = keras.layers.Conv2D(make_divisible(channels / self.reduction), 1, name="reduce")
        self.expand = keras.layers.Conv2D(channels, 1, name="expand")

    def call(self, x):
        s = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        s = self.expand(tf.nn.relu(self.reduce(s)))
        s = tf.sigmoid(s) if self.gate == "se" else hard_sigmoid(s)
        return x * s

    def get_config(self):
        return {**super().get_config(), "gate": self.gate, "reduction": self.reduction}


class MobileOp(keras.layers.Layer):
    """Base of the candidate ops: (op name, output channels, stride); sublayers are made in build()."""

    def __init__(self, op: str, out_channels: int, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if out_channels < 2 or out_channels % 2:
            raise ValueError(f"{op}: out_channels must be an even number >= 2, got {out_channels}")
        self.spec = parse_op(op)
        self.op, self.out_channels, self.stride = op, out_channels, stride

    def get_config(self):
        return {**super().get_config(), "op": self.op, "out_channels": self.out_channels, "stride": self.stride}


@keras.utils.register_keras_serializable(package="tfnas")
class ShuffleUnit(MobileOp):
    """ShuffleNetV2 unit (kernel 3/5/7) or Shuffle-Xception unit, with optional SE on the main branch."""

    @property
    def PRE_STRIDE(self) -> tuple[str, ...]:  # noqa: N802  (same name as the class constant of the other ops)
        # The ShuffleNet main branch opens with a 1x1 before its strided depthwise; Xception opens strided.
        return ("pw1",) if self.spec.family == "shufflenet" else ()

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        self.split = self.stride == 1 and in_channels == self.out_channels
        if self.split:
            branch_in = in_channels // 2
            proj_out = in_channels // 2
        else:
            branch_in = in_channels
            # SPOS keeps the input's channels in the projection branch when the unit widens.
            proj_out = in_channels if in_channels < self.out_channels else self.out_channels // 2
        main_out = self.out_channels - proj_out
        mid = self.out_channels // 2
        k = self.spec.kernel
        layers: list[keras.layers.Layer] = []
        if self.spec.family == "shufflenet":
            layers += [_conv1x1(mid, "pw1"), batch_norm("bn1"), keras.layers.ReLU(name="relu1"),
                       _dw(k, self.stride, "dw"), batch_norm("bn2"),
                       _conv1x1(main_out, "pw2"), batch_norm("bn3"), keras.layers.ReLU(name="relu2")]
        else:  # Shuffle-Xception: three (dw 3x3-BN, 1x1-BN-ReLU), the first strided
            widths = (mid, mid, main_out)
            for i, width in enumerate(widths):
                layers += [_dw(3, self.stride if i == 0 else 1, f"dw{i + 1}"), batch_norm(f"bn_dw{i + 1}"),
                           _conv1x1(width, f"pw{i + 1}"), batch_norm(f"bn_pw{i + 1}"), keras.layers.ReLU(name=f"relu{i + 1}")]
        if self.spec.se:
            layers.append(SqueezeExcite(self.spec.se, name="se"))
        self.main = layers
        self.proj = [] if self.split else [
            _dw(k, self.stride, "proj_dw"), batch_norm("proj_bn1"),
            _conv1x1(proj_out, "proj_pw"), batch_norm("proj_bn2"), keras.layers.ReLU(name="proj_relu")]
        self._branch_in = branch_in

    @staticmethod
    def _run(layers, x, training):
        for layer in layers:
            x = layer(x, training=training) if isinstance(layer, keras.layers.BatchNormalization) else layer(x)
        return x

    def call(self, x, training=None):
        if self.split:
            keep, x = x[..., : self._branch_in], x[..., self._branch_in:]
        else:
            keep = self._run(self.proj, x, training)
        return channel_shuffle(tf.concat([keep, self._run(self.main, x, training)], axis=-1), 2)


@keras.utils.register_keras_serializable(package="tfnas")
class InvertedResidual(MobileOp):
    """MobileNetV2 inverted residual (kernel 3/5/7, expansion 1/3/6), optional SE after the depthwise stage."""

    PRE_STRIDE = ("expand",)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        hidden = in_channels * self.spec.expansion
        k = self.spec.kernel
        layers: list[keras.layers.Layer] = []
        if self.spec.expansion != 1:
            layers += [_conv1x1(hidden, "expand"), batch_norm("bn_expand"), keras.layers.ReLU(6.0, name="relu_expand")]
        layers += [_dw(k, self.stride, "dw"), batch_norm("bn_dw"), keras.layers.ReLU(6.0, name="relu_dw")]
        if self.spec.se:
            layers.append(SqueezeExcite(self.spec.se, name="se"))
        layers += [_conv1x1(self.out_channels, "project"), batch_norm("bn_project")]
        self.body = layers
        self.residual = self.stride == 1 and in_channels == self.out_channels

    def call(self, x, training=None):
        y = ShuffleUnit._run(self.body, x, training)
        return x + y if self.residual else y


@keras.utils.register_keras_serializable(package="tfnas")
class MobileSepConv(MobileOp):
    """DARTS sep_conv_3x3: (ReLU, dw 3x3, 1x1 -> C_in, BN), (ReLU, dw 3x3, 1x1 -> C_out, BN), optional SE."""

    PRE_STRIDE = ()

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        layers: list[keras.layers.Layer] = [
            keras.layers.ReLU(name="relu1"), _dw(3, self.stride, "dw1"), _conv1x1(in_channels, "pw1"), batch_norm("bn1"),
            keras.layers.ReLU(name="relu2"), _dw(3, 1, "dw2"), _conv1x1(self.out_channels, "pw2"), batch_norm("bn2")]
        if self.spec.se:
            layers.append(SqueezeExcite(self.spec.se, name="se"))
        self.body = layers

    def call(self, x, training=None):
        return ShuffleUnit._run(self.body, x, training)


_CLASSES = {"shufflenet": ShuffleUnit, "shuffle_xception": ShuffleUnit, "mbconv": InvertedResidual,
            "sep_conv": MobileSepConv}


def build_op(op: str, out_channels: int, stride: int = 1, name: str | None = None) -> MobileOp:
    """The Keras layer for op ``op`` producing ``out_channels`` channels at ``stride`` (input channels from its input)."""
    return _CLASSES[parse_op(op).family](op, out_channels, stride, name=name)


def op_macs(op: str, in_shape: tuple[int, int, int], out_channels: int, stride: int) -> int:
    """Multiply-accumulates of one op at one position (batch 1); builds the op to count them."""
    layer = build_op(op, out_channels, stride)
    layer(tf.zeros((1, *in_shape)), training=False)
    return layer_macs(layer, in_shape)


def layer_macs(layer: MobileOp, in_shape: tuple[int, int, int]) -> int:
    """Multiply-accumulates of a built op, read off its own layers.

    Used as the op's representation-capacity measure in hardware-aware space generation. Each
    convolution counts kernel taps x channels x its output pixels: SE convolutions run on 1x1,
    the layers before the strided depthwise (``PRE_STRIDE``) on the input resolution, the rest on
    the output resolution.
    """
    h, w = in_shape[0], in_shape[1]
    oh, ow = -(-h // layer.stride), -(-w // layer.stride)
    se_convs = {id(c) for se in _leaves(layer, SqueezeExcite) for c in (se.reduce, se.expand)}
    total = 0
    for conv in _leaves(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
        pixels = 1 if id(conv) in se_convs else h * w if conv.name in layer.PRE_STRIDE else oh * ow
        if isinstance(conv, keras.layers.DepthwiseConv2D):
            kh, kw, channels, _ = conv.depthwise_kernel.shape
            total += pixels * kh * kw * channels
        else:
            kh, kw, cin, cout = conv.kernel.shape
            total += pixels * kh * kw * cin * cout
    return int(total)


def _leaves(layer: keras.layers.Layer, cls: type | tuple[type, ...]) -> list:
    return [sub for sub in layer._flatten_layers(include_self=False, recursive=True) if isinstance(sub, cls)]
