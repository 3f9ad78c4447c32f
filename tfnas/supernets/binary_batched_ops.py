"""Binary candidate ops computed for all edges of a node at once (MixedCell's fast path).

Same regrouping as tfnas/supernets/batched_ops.py, for the binary ops of tfnas/ops/binary_ops.py:
a grouped binary convolution with g groups per edge over G concatenated edges is one
convolution with G*g groups; the per-output-channel weight scale mean|W| and the PReLU slopes
are per channel, hence per edge; the channel shuffle is applied to each edge's C channels.

BATS ops read the cell's shared affine-free BN of their input (MixedCell
``input_transform="batch_norm"``) and apply sign themselves, since the stride-2 skip
(FactorizedReduce, real-valued) reads the same BN without sign. Naive binary DARTS ops read the
raw state (``input_transform="identity"``). The identity shortcut of stride-1 BATS ops is the
``residual`` flag MixedCell honours.

The quantizers follow a :class:`tfnas.ops.binary_ops.Binarization`: fixed 0/1 fractions give
plain real or binary graphs; tf.Variable fractions blend them for progressive binarisation.
Binary convolutions pad their +-1 inputs with +1 as the child network's Larq layers do
(binary_ops.BINARY_PAD_VALUE); with a blend the pad value is blended too (f * 1 + (1 - f) * 0).
tests/supernets/test_bats_supernet.py checks every op against the per-edge Larq layers.
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

from tfnas.ops.binary_ops import BINARY_PAD_VALUE, PRELU_INIT, Binarization, binary_kernel, sign
from tfnas.ops.channels import channel_shuffle
from tfnas.supernets.batched_ops import BatchedOp, KernelSpec
from tfnas.ops.grouped_conv import grouped_conv2d, native_grouped_conv_trainable

WEIGHT_CLIP = 1.0


def _mix(fraction, binary_fn: Callable[[tf.Tensor], tf.Tensor], x: tf.Tensor) -> tf.Tensor:
    if isinstance(fraction, (int, float)):
        if fraction not in (0.0, 1.0):
            raise ValueError(f"a fixed binarisation fraction must be 0 or 1, got {fraction}")
        return binary_fn(x) if fraction == 1.0 else x
    f = tf.cast(fraction, x.dtype)
    return f * binary_fn(x) + (1.0 - f) * x


def quantize_input(binarization: Binarization, x: tf.Tensor) -> tf.Tensor:
    return _mix(binarization.activations, sign, x)


def shared_binary_input(binarization: Binarization) -> tuple[str, Callable[[tf.Tensor], tf.Tensor]]:
    """``BatchedOp.prepare`` of ops that read the quantized input: MixedCell computes it once per
    node group for all of them (the same value each would compute itself)."""
    return "binary_input", lambda x: quantize_input(binarization, x)


def quantize_kernel(binarization: Binarization, w: tf.Tensor, depthwise: bool = False) -> tf.Tensor:
    """Per-output-channel scaled sign: axes (0, 1, 2) of a conv kernel, (0, 1) of a depthwise one."""
    axes = (0, 1) if depthwise else (0, 1, 2)
    return _mix(binarization.weights, lambda v: binary_kernel(v, axes), w)


def prelu(x: tf.Tensor, slopes: tf.Tensor) -> tf.Tensor:
    return tf.nn.relu(x) + slopes * tf.minimum(x, 0.0)


def pad_value(binarization: Binarization):
    """The value binary convolutions pad with: +1 for binary inputs, 0 for real ones, blended between."""
    f = binarization.activations
    return BINARY_PAD_VALUE * f if isinstance(f, (int, float)) else BINARY_PAD_VALUE * tf.cast(f, tf.float32)


def same_pad(x: tf.Tensor, kernel_size: int, stride: int, dilation: int, value) -> tf.Tensor:
    """Pad as TF/Keras SAME padding does (the extra row/column after), with ``value``."""
    pads = []
    extent = (kernel_size - 1) * dilation + 1
    for size in (x.shape[1], x.shape[2]):
        out = -(-size // stride)
        total = max((out - 1) * stride + extent - size, 0)
        pads.append([total // 2, total - total // 2])
    if not any(p for pair in pads for p in pair):
        return x
    return tf.pad(x, [[0, 0], *pads, [0, 0]], constant_values=value)


def grouped_conv(x: tf.Tensor, kernel: tf.Tensor, stride: int = 1, dilation: int = 1, pad=0.0) -> tf.Tensor:
    """SAME convolution, padded with ``pad``, with groups = depth(x) / kernel input depth.

    A strided dilated convolution is computed at stride 1 and subsampled, as the child
    network's binary_ops.Subsample does (Keras and TFLite refuse stride and dilation together).
    """
    if dilation > 1 and stride > 1:
        return grouped_conv(x, kernel, 1, dilation, pad)[:, ::stride, ::stride, :]
    groups = x.shape[-1] // kernel.shape[2]
    x = same_pad(x, kernel.shape[0], stride, dilation, pad)
    if dilation == 1:
        return grouped_conv2d(x, kernel, groups, stride, "VALID")
    if groups == 1 or native_grouped_conv_trainable():
        return tf.nn.conv2d(x, kernel, stride, "VALID", dilations=dilation)
    xs, ks = tf.split(x, groups, axis=-1), tf.split(kernel, groups, axis=-1)
    return tf.concat([tf.nn.conv2d(a, b, stride, "VALID", dilations=dilation) for a, b in zip(xs, ks)], -1)


def depthwise(x: tf.Tensor, kernel: tf.Tensor, stride: int, dilation: int, pad) -> tf.Tensor:
    """SAME depthwise convolution padded with ``pad`` (strided + dilated: stride 1, then subsampled)."""
    if dilation > 1 and stride > 1:
        return depthwise(x, kernel, 1, dilation, pad)[:, ::stride, ::stride, :]
    x = same_pad(x, kernel.shape[0], stride, dilation, pad)
    return tf.nn.depthwise_conv2d(x, kernel, [1, stride, stride, 1], "VALID", dilations=[dilation, dilation])


def _offset_halves(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Rows/columns 0, 2, 4, ... and 1, 3, 5, ... (zero-padded to the same size), FactorizedReduce's inputs."""
    a = x[:, ::2, ::2, :]
    b = x[:, 1::2, 1::2, :]
    if b.shape[1] != a.shape[1] or b.shape[2] != a.shape[2]:
        b = tf.pad(b, [[0, 0], [0, a.shape[1] - b.shape[1]], [0, a.shape[2] - b.shape[2]], [0, 0]])
    return a, b


def _interleave_halves(a: tf.Tensor, b: tf.Tensor, groups: int) -> tf.Tensor:
    """Per edge [a half, b half]: the concat of each edge's two convolutions, edge-major."""
    half = a.shape[-1] // groups
    shape = tf.shape(a)
    split = tf.concat([shape[:3], [groups, half]], 0)
    ab = tf.concat([tf.reshape(a, split), tf.reshape(b, split)], axis=-1)
    return tf.reshape(ab, tf.concat([shape[:3], [groups * 2 * half]], 0))


# --- BATS ----------------------------------------------------------------------------------
def bats_conv_ops(binarization: Binarization, groups: int, shuffle_groups: int) -> dict[str, BatchedOp]:
    """group_conv_3x3/5x5 and dil_group_conv_3x3/5x5 with ``groups`` groups per edge."""

    binary_input = shared_binary_input(binarization)  # one sign(x) per node group, not one per op

    def op(kernel_size: int, dilation: int) -> BatchedOp:
        def compute(xb, k, stride, edges, bn, training):  # xb: the quantized input
            y = grouped_conv(xb, quantize_kernel(binarization, k["conv"]), stride, dilation, pad_value(binarization))
            return channel_shuffle(prelu(y, k["prelu"]), shuffle_groups, blocks=edges)

        return BatchedOp((KernelSpec("conv", "pointwise", kernel_size, in_fraction=1.0 / groups, clip=WEIGHT_CLIP),
                          KernelSpec("prelu", "vector", init=PRELU_INIT)), compute, residual=True,
                         prepare=binary_input)

    return {"group_conv_3x3": op(3, 1), "group_conv_5x5": op(5, 1),
            "dil_group_conv_3x3": op(3, 2), "dil_group_conv_5x5": op(5, 2)}


def bats_factorized_reduce(binarization: Binarization, binary: bool = False) -> BatchedOp:
    """Stride-2 skip of the BATS space on BN(x): two offset 1x1 convs -> concat -> PReLU.

    Real-valued unless ``binary`` (``--binary_downsample``), then each conv reads sign(BN(x)).
    """

    def compute(x, k, stride, edges, bn, training):
        a, b = _offset_halves(x)
        if binary:
            a, b = quantize_input(binarization, a), quantize_input(binarization, b)
            k1, k2 = quantize_kernel(binarization, k["conv1"]), quantize_kernel(binarization, k["conv2"])
        else:
            k1, k2 = k["conv1"], k["conv2"]
        y = _interleave_halves(grouped_conv2d(a, k1, edges), grouped_conv2d(b, k2, edges), edges)
        return prelu(y, k["prelu"])

    clip = WEIGHT_CLIP if binary else None
    return BatchedOp((KernelSpec("conv1", "pointwise", 1, 0.5, clip=clip), KernelSpec("conv2", "pointwise", 1, 0.5, clip=clip),
                      KernelSpec("prelu", "vector", init=PRELU_INIT)), compute)


# --- naive binary DARTS ------------------------------------------------------------------------
def naive_conv_ops(binarization: Binarization) -> dict[str, BatchedOp]:
    """DARTS' sep_conv / dil_conv with every conv binary (sign in place of each ReLU)."""

    binary_input = shared_binary_input(binarization)  # the first stage of every op reads sign(x)

    def stage(xb, dw, pw, stride, dilation, edges):  # xb: the quantized input
        y = depthwise(xb, quantize_kernel(binarization, dw, depthwise=True), stride, dilation, pad_value(binarization))
        return grouped_conv2d(quantize_input(binarization, y), quantize_kernel(binarization, pw), edges)

    def sep(kernel_size: int) -> BatchedOp:
        def compute(xb, k, stride, edges, bn, training):
            y = bn("bn1", stage(xb, k["dw1"], k["pw1"], stride, 1, edges))
            return bn("bn2", stage(quantize_input(binarization, y), k["dw2"], k["pw2"], 1, 1, edges))

        return BatchedOp((KernelSpec("dw1", "depthwise", kernel_size, clip=WEIGHT_CLIP),
                          KernelSpec("pw1", "pointwise", clip=WEIGHT_CLIP), KernelSpec("bn1", "bn"),
                          KernelSpec("dw2", "depthwise", kernel_size, clip=WEIGHT_CLIP),
                          KernelSpec("pw2", "pointwise", clip=WEIGHT_CLIP), KernelSpec("bn2", "bn")), compute,
                         output_bn="bn2", prepare=binary_input)

    def dil(kernel_size: int) -> BatchedOp:
        def compute(xb, k, stride, edges, bn, training):
            return bn("bn", stage(xb, k["dw"], k["pw"], stride, 2, edges))

        return BatchedOp((KernelSpec("dw", "depthwise", kernel_size, clip=WEIGHT_CLIP),
                          KernelSpec("pw", "pointwise", clip=WEIGHT_CLIP), KernelSpec("bn", "bn")), compute,
                         output_bn="bn", prepare=binary_input)

    return {"sep_conv_3x3": sep(3), "sep_conv_5x5": sep(5), "dil_conv_3x3": dil(3), "dil_conv_5x5": dil(5)}


def naive_factorized_reduce(binarization: Binarization) -> BatchedOp:
    """DARTS' FactorizedReduce binarised: sign -> two offset binary 1x1 convs -> concat -> BN."""

    def compute(x, k, stride, edges, bn, training):
        a, b = _offset_halves(x)
        a = grouped_conv2d(quantize_input(binarization, a), quantize_kernel(binarization, k["conv1"]), edges)
        b = grouped_conv2d(quantize_input(binarization, b), quantize_kernel(binarization, k["conv2"]), edges)
        return bn("bn", _interleave_halves(a, b, edges))

    return BatchedOp((KernelSpec("conv1", "pointwise", 1, 0.5, clip=WEIGHT_CLIP),
                      KernelSpec("conv2", "pointwise", 1, 0.5, clip=WEIGHT_CLIP), KernelSpec("bn", "bn")), compute,
                     output_bn="bn")
