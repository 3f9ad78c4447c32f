"""Binary ops compute with binary values: +-1 inputs and per-channel +-alpha kernels, seen on the
intermediate tensors, and the convolution's output is exactly the convolution of those values."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import larq as lq

from tfnas.ops import binary_ops
from tfnas.ops.binary_ops import Binarization, BinaryOpConfig

keras = tf.keras


def _binary_convs(model: keras.Model):
    layers = binary_ops.binary_layers(model)
    assert layers, f"{model.name} has no binary layer"
    return layers


def _check_binary_forward(op_model: keras.Model, x: np.ndarray) -> int:
    """For every binary conv of ``op_model``: quantized input is +-1, quantized kernel is +-scale per
    output channel, and the layer's output equals the plain convolution of those quantized tensors."""
    checked = 0
    for layer in _binary_convs(op_model):
        probe = keras.Model(op_model.input, [layer.input, layer.output])
        layer_in, layer_out = probe(x, training=False)
        q_in = layer.input_quantizer(layer_in).numpy()
        assert set(np.unique(q_in)) <= {-1.0, 1.0}, f"{layer.name}: inputs are not +-1 after quantisation"
        if isinstance(layer, lq.layers.QuantDepthwiseConv2D):
            w = layer.depthwise_kernel
            q_w = layer.depthwise_quantizer(tf.convert_to_tensor(w.latent_variable)).numpy()
            scale = np.abs(q_w).max(axis=(0, 1), keepdims=True)
        else:
            w = layer.kernel
            q_w = layer.kernel_quantizer(tf.convert_to_tensor(w.latent_variable)).numpy()
            scale = np.abs(q_w).max(axis=(0, 1, 2), keepdims=True)
        assert np.all(scale > 0)
        np.testing.assert_array_equal(np.abs(q_w / scale), 1.0, err_msg=f"{layer.name}: kernel not +-alpha per channel")
        # the layer computes exactly conv(quantized input padded with +1, quantized kernel)
        strides = layer.strides[0]
        dilation = layer.dilation_rate[0]
        assert layer.pad_values == 1.0  # +1 is a binary value; zero padding is not (binary_ops docstring)
        padded = _pad_same(q_in, q_w.shape[0], strides, dilation, 1.0)
        if isinstance(layer, lq.layers.QuantDepthwiseConv2D):
            want = tf.nn.depthwise_conv2d(padded, q_w, [1, strides, strides, 1], "VALID", dilations=[dilation, dilation])
        else:
            want = tf.nn.conv2d(padded, q_w, strides, "VALID", dilations=dilation)
        np.testing.assert_allclose(layer_out.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
        checked += 1
    return checked


def _pad_same(x: np.ndarray, k: int, stride: int, dilation: int, value: float) -> np.ndarray:
    extent = (k - 1) * dilation + 1
    pads = []
    for size in x.shape[1:3]:
        total = max((-(-size // stride) - 1) * stride + extent - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=value)


CONFIG = BinaryOpConfig(groups=2, shuffle_groups=4, affine=True)


@pytest.mark.parametrize("op", binary_ops.BATS_CONV_OPS)
@pytest.mark.parametrize("stride", [1, 2])
def test_bats_conv_ops_use_binary_values(op, stride):
    tf.random.set_seed(0)
    model = binary_ops.bats_op(op, 8, stride, (10, 10, 8), CONFIG, f"{op}_{stride}")
    x = np.random.RandomState(0).randn(2, 10, 10, 8).astype(np.float32)
    assert _check_binary_forward(model, x) == 1
    conv = _binary_convs(model)[0]
    assert conv.groups == 2 and conv.kernel_size[0] == int(op[-1])
    assert conv.dilation_rate[0] == (2 if op.startswith("dil") else 1)
    assert model(x).shape == (2, 10 // stride, 10 // stride, 8)


@pytest.mark.parametrize("op", binary_ops.NAIVE_CONV_OPS)
def test_naive_darts_ops_binarise_every_conv(op):
    tf.random.set_seed(0)
    model = binary_ops.naive_op(op, 8, 2, (10, 10, 8), CONFIG, op)
    x = np.random.RandomState(1).randn(2, 10, 10, 8).astype(np.float32)
    # sep_conv: two (depthwise, pointwise) stages; dil_conv: one
    assert _check_binary_forward(model, x) == (4 if op.startswith("sep") else 2)


def test_preprocess_and_downsampling():
    x = np.random.RandomState(2).randn(2, 8, 8, 16).astype(np.float32)
    pre = binary_ops.bats_preprocess(8, (8, 8, 16), CONFIG, "pre")
    assert _check_binary_forward(pre, x) == 1
    real_reduce = binary_ops.factorized_reduce(8, (8, 8, 16), CONFIG, "fr")
    assert binary_ops.binary_layers(real_reduce) == []  # BATS keeps downsampling real-valued
    assert real_reduce(x).shape == (2, 4, 4, 8)
    binary_reduce = binary_ops.factorized_reduce(8, (8, 8, 16), CONFIG, "fr_bin", binary=True)
    assert _check_binary_forward(binary_reduce, x) == 2
    real_pre = binary_ops.bats_preprocess(8, (8, 8, 16), BinaryOpConfig(binary_preprocess=False), "pre_real")
    assert binary_ops.binary_layers(real_pre) == []


def test_stride1_binary_op_has_identity_shortcut():
    model = binary_ops.bats_op("group_conv_3x3", 8, 1, (6, 6, 8), CONFIG, "g")
    x = np.random.RandomState(3).randn(1, 6, 6, 8).astype(np.float32)
    branch = keras.Model(model.input, model.get_layer("shuffle").output)
    np.testing.assert_allclose(model(x).numpy(), x + branch(x).numpy(), rtol=1e-6, atol=1e-6)
    assert isinstance(model.get_layer("prelu"), keras.layers.PReLU)


def test_channel_shuffle_is_shufflenets():
    x = tf.reshape(tf.range(12, dtype=tf.float32), [1, 1, 1, 12])
    # PyTorch: view(groups=3, 4).transpose -> channel j*3 + i holds old i*4 + j
    want = np.arange(12).reshape(3, 4).T.reshape(-1)
    np.testing.assert_array_equal(binary_ops.channel_shuffle(x, 3).numpy().reshape(-1), want)
    # blocks: each block of 6 shuffled on its own
    got = binary_ops.channel_shuffle(x, 2, blocks=2).numpy().reshape(-1)
    np.testing.assert_array_equal(got, np.concatenate([np.arange(6).reshape(2, 3).T.reshape(-1),
                                                       6 + np.arange(6).reshape(2, 3).T.reshape(-1)]))


def test_blend_quantizer_moves_from_real_to_binary():
    fraction = tf.Variable(0.0)
    q = Binarization(activations=fraction).activation_quantizer()
    x = tf.constant([-2.0, -0.3, 0.0, 0.4, 3.0])
    np.testing.assert_array_equal(q(x).numpy(), x.numpy())
    fraction.assign(1.0)
    np.testing.assert_array_equal(q(x).numpy(), [-1.0, -1.0, 1.0, 1.0, 1.0])
    fraction.assign(0.25)
    np.testing.assert_allclose(q(x).numpy(), 0.25 * np.array([-1, -1, 1, 1, 1]) + 0.75 * x.numpy())
    assert Binarization(weights=0.0).kernel_quantizer() is None  # real weights: no quantizer
