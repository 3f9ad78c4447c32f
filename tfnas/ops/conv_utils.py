"""Convolution helpers that keep the math of the reference (PyTorch) DARTS ops.

TensorFlow refuses a depthwise convolution with both stride > 1 and dilation > 1, which the
DARTS reduction cell needs (``dil_conv_3x3`` on a stride-2 edge). A dilated kernel equals a
larger kernel with zeros between its taps, so we build that kernel and run one plain strided
depthwise convolution: same output, one op, and it converts to TFLite unchanged.
"""
from __future__ import annotations

import tensorflow as tf


def dilate_kernel(kernel: tf.Tensor, dilation: int) -> tf.Tensor:
    """Spread a [k, k, ...] kernel to [(k-1)*d+1, (k-1)*d+1, ...] with zeros between taps."""
    if dilation == 1:
        return kernel
    k = kernel.shape[0]
    size = (k - 1) * dilation + 1
    rows = tf.range(k) * dilation
    index = tf.stack(tf.meshgrid(rows, rows, indexing="ij"), axis=-1)  # [k, k, 2]
    out_shape = tf.concat([[size, size], tf.shape(kernel)[2:]], axis=0)
    return tf.scatter_nd(index, kernel, out_shape)


def depthwise_conv(x: tf.Tensor, kernel: tf.Tensor, stride: int, dilation: int) -> tf.Tensor:
    """Depthwise convolution with SAME padding for any stride/dilation combination.

    ``kernel`` is [k, k, channels, 1]. Stride 1 uses TensorFlow's native dilation; stride > 1
    with dilation > 1 uses the equivalent zero-interleaved kernel.
    """
    strides = [1, stride, stride, 1]
    if dilation > 1 and stride > 1:
        return tf.nn.depthwise_conv2d(x, dilate_kernel(kernel, dilation), strides, "SAME")
    return tf.nn.depthwise_conv2d(x, kernel, strides, "SAME", dilations=[dilation, dilation])
