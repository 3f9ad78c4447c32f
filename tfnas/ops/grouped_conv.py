"""Grouped convolution with a fallback where TensorFlow cannot differentiate it.

TensorFlow computes grouped convolutions (input depth = groups x kernel input depth) and their
gradients on CPU only through oneDNN (on by default on x86 Linux) and on GPU through cuDNN.
Without oneDNN (TF_ENABLE_ONEDNN_OPTS=0, some ARM builds) the gradient raises "Gradients for
grouped convolutions are not supported on CPU". We probe once and otherwise fall back to an
exact equivalent: a batched matmul for 1x1 kernels, per-group convolutions for larger ones.
"""
from __future__ import annotations

import functools

import tensorflow as tf


@functools.lru_cache(maxsize=None)
def native_grouped_conv_trainable() -> bool:
    """Whether tf.nn.conv2d can run and differentiate a grouped convolution on this device.

    The probe runs the two gradient kernels themselves (Conv2DBackpropInput and
    Conv2DBackpropFilter on a grouped shape), eagerly inside ``tf.init_scope``: the first call may
    come while a model is traced or inside a tf.distribute scope. A GradientTape cannot be used
    there: ``init_scope`` pauses every tape, so a taped probe sees no gradient and would always
    choose the slow fallback.
    """
    try:
        with tf.init_scope():
            x = tf.ones([1, 4, 4, 4])
            k = tf.ones([1, 1, 2, 4])  # 2 groups of 2 input channels
            dy = tf.nn.conv2d(x, k, 1, "SAME")
            strides = [1, 1, 1, 1]
            dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=[1, 4, 4, 4], filter=k, out_backprop=dy,
                                                strides=strides, padding="SAME")
            dk = tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=[1, 1, 2, 4], out_backprop=dy,
                                                 strides=strides, padding="SAME")
            return bool(tf.reduce_all(tf.math.is_finite(dx))) and bool(tf.reduce_all(tf.math.is_finite(dk)))
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.NotFoundError):
        return False


def grouped_conv2d(x: tf.Tensor, kernel: tf.Tensor, groups: int, stride: int = 1, padding: str = "SAME") -> tf.Tensor:
    """Convolution of ``groups`` independent channel groups.

    ``x`` is [B, H, W, groups * Cin]; ``kernel`` is [k, k, Cin, groups * Cout] (group-major output).
    """
    if groups == 1 or native_grouped_conv_trainable():
        return tf.nn.conv2d(x, kernel, stride, padding)
    k, cin, cout = kernel.shape[0], kernel.shape[2], kernel.shape[3] // groups
    if k == 1:
        if stride > 1:  # a strided 1x1 conv reads rows/cols 0, s, 2s, ... with SAME and VALID alike
            x = x[:, ::stride, ::stride, :]
        shape = tf.shape(x)
        xg = tf.reshape(x, [-1, groups, cin])  # [BHW, G, Cin]
        kg = tf.transpose(tf.reshape(kernel[0, 0], [cin, groups, cout]), [1, 0, 2])  # [G, Cin, Cout]
        y = tf.einsum("ngc,gcd->ngd", xg, kg)
        return tf.reshape(y, tf.concat([shape[:3], [groups * cout]], axis=0))
    xs = tf.split(x, groups, axis=-1)
    ks = tf.split(kernel, groups, axis=-1)
    return tf.concat([tf.nn.conv2d(a, b, stride, padding) for a, b in zip(xs, ks)], axis=-1)
