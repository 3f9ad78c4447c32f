"""Convolution helpers: the grouped-convolution probe and depthwise convolutions under bfloat16."""
import numpy as np
import pytest

import tfnas  # noqa: F401  (Keras 2 before TensorFlow)
import tensorflow as tf

from tfnas.ops import grouped_conv
from tfnas.ops.conv_utils import depthwise_conv


def _taped_grouped_gradient_works() -> bool:
    """Ground truth, outside any scope: differentiate a grouped convolution with a tape."""
    x, k = tf.ones([1, 4, 4, 4]), tf.ones([1, 1, 2, 4])
    try:
        with tf.GradientTape() as tape:
            tape.watch([x, k])
            y = tf.reduce_sum(tf.nn.conv2d(x, k, 1, "SAME"))
        dx, dk = tape.gradient(y, [x, k])
        return dx is not None and dk is not None
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
        return False


def test_grouped_probe_agrees_with_a_taped_gradient_also_when_first_called_while_tracing():
    # The probe used to run a tape inside tf.init_scope, which pauses tapes: it saw no gradient and
    # always chose the slow fallback (a third of the DARTS supernet step's op time).
    grouped_conv.native_grouped_conv_trainable.cache_clear()
    traced = tf.function(lambda: tf.constant(grouped_conv.native_grouped_conv_trainable()))
    assert bool(traced()) == _taped_grouped_gradient_works()
    assert grouped_conv.native_grouped_conv_trainable() == _taped_grouped_gradient_works()


@pytest.mark.parametrize("stride,dilation", [(1, 1), (2, 1), (1, 2), (2, 2)])
def test_bfloat16_depthwise_computes_in_float32_and_returns_bfloat16(stride, dilation):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=[2, 8, 8, 6]), tf.float32)
    kernel = tf.constant(rng.normal(size=[5, 5, 6, 1]), tf.float32)
    reference = depthwise_conv(x, kernel, stride, dilation)
    x16, k16 = tf.cast(x, tf.bfloat16), tf.cast(kernel, tf.bfloat16)
    with tf.GradientTape() as tape:
        tape.watch([x16, k16])
        y = depthwise_conv(x16, k16, stride, dilation)
    assert y.dtype == tf.bfloat16 and y.shape == reference.shape
    # the inputs' bfloat16 rounding is the only error: float32 arithmetic over the taps
    exact = depthwise_conv(tf.cast(x16, tf.float32), tf.cast(k16, tf.float32), stride, dilation)
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), exact.numpy(), rtol=1e-2, atol=1e-2)
    dx, dk = tape.gradient(y, [x16, k16])
    assert dx.dtype == tf.bfloat16 and dk.dtype == tf.bfloat16
    # the convolution itself (and so its backward kernels, the slow ones in bfloat16) is float32
    graph = tf.function(lambda a, b: depthwise_conv(a, b, stride, dilation)).get_concrete_function(x16, k16).graph
    kinds = {op.get_attr("T") for op in graph.get_operations() if op.type == "DepthwiseConv2dNative"}
    assert kinds == {tf.float32}
