"""Convolution helpers that keep the math of the reference (PyTorch) DARTS ops.

TensorFlow refuses a depthwise convolution with both stride > 1 and dilation > 1, which the
DARTS reduction cell needs (``dil_conv_3x3`` on a stride-2 edge). A dilated kernel equals a
larger kernel with zeros between its taps, so we build that kernel and run one plain strided
depthwise convolution: same output, one op, and it converts to TFLite unchanged.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


MAX_SPREAD_KERNEL = 5
"""Stride-1 dilated kernels up to this spread also run as one plain conv with a spread kernel
(a 3x3 kernel at dilation 2 becomes 5x5): as fast as TensorFlow's space-to-batch dilation here
and two graph ops fewer per conv. Larger ones (5x5 at dilation 2 -> 9x9) keep native dilation,
which does fewer multiplications."""

FLOAT32_DEPTHWISE = (tf.bfloat16,)
"""Compute dtypes whose depthwise convolutions run in float32 (cast in, cast back): oneDNN's
bfloat16 depthwise backward kernels took 4.5x (filter gradient) and 6.8x (input gradient) the
float32 time in a DARTS supernet step on an AVX512-BF16/AMX Xeon, and its bfloat16 forward was no
faster (docs/BENCHMARKS.md, issue 15)."""


def dilate_kernel(kernel: tf.Tensor, dilation: int) -> tf.Tensor:
    """Spread a [k, k, ...] kernel to [(k-1)*d+1, (k-1)*d+1, ...] with zeros between taps."""
    if dilation == 1:
        return kernel
    k = kernel.shape[0]
    size = (k - 1) * dilation + 1
    rows = np.arange(k) * dilation
    index = np.stack(np.meshgrid(rows, rows, indexing="ij"), axis=-1).astype(np.int32)  # [k, k, 2], static
    return tf.scatter_nd(index, kernel, [size, size, *kernel.shape[2:]])


def depthwise_conv(x: tf.Tensor, kernel: tf.Tensor, stride: int, dilation: int) -> tf.Tensor:
    """Depthwise convolution with SAME padding for any stride/dilation combination.

    ``kernel`` is [k, k, channels, 1]. Dilation uses the equivalent zero-interleaved kernel when
    striding (TensorFlow has no strided dilated depthwise conv) or when it is small; otherwise
    TensorFlow's native dilation. Under bfloat16 it computes in float32 (``FLOAT32_DEPTHWISE``)
    and returns the input's dtype.
    """
    compute_dtype = x.dtype
    if compute_dtype in FLOAT32_DEPTHWISE:
        x, kernel = tf.cast(x, tf.float32), tf.cast(kernel, tf.float32)
    strides = [1, stride, stride, 1]
    spread = (kernel.shape[0] - 1) * dilation + 1
    if dilation > 1 and (stride > 1 or spread <= MAX_SPREAD_KERNEL):
        y = tf.nn.depthwise_conv2d(x, dilate_kernel(kernel, dilation), strides, "SAME")
    else:
        y = tf.nn.depthwise_conv2d(x, kernel, strides, "SAME", dilations=[dilation, dilation])
    return tf.cast(y, compute_dtype) if y.dtype != compute_dtype else y
