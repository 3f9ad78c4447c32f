"""Mobile ops: every op builds, converts to TFLite, runs in LiteRT and matches Keras, at stride 1 and 2."""
from __future__ import annotations

import numpy as np
import pytest

import tfnas  # noqa: F401
import tensorflow as tf

from tfnas.hardware import export
from tfnas.ops import mobile_ops

keras = tf.keras


def _all_ops_model(stride: int, in_channels: int, out_channels: int) -> keras.Model:
    """One model applying every op of the vocabulary to the same input: one conversion covers all ops."""
    inp = keras.Input((8, 8, in_channels), batch_size=1)
    outs = [mobile_ops.build_op(op, out_channels, stride, name=op)(inp) for op in mobile_ops.OPS]
    flat = [keras.layers.Flatten()(o) for o in outs]
    return keras.Model(inp, keras.layers.Concatenate()(flat))


@pytest.mark.parametrize("stride,in_channels,out_channels", [(1, 16, 16), (2, 8, 16)])
def test_every_op_exports_and_matches_keras_in_litert(stride, in_channels, out_channels):
    tf.keras.utils.set_random_seed(stride)
    model = _all_ops_model(stride, in_channels, out_channels)
    # Non-trivial BN statistics, so inference-mode BN is exercised rather than the identity.
    for layer in model.layers:
        for sub in layer._flatten_layers(include_self=True, recursive=True):
            if isinstance(sub, keras.layers.BatchNormalization):
                sub.moving_mean.assign(np.random.uniform(-0.5, 0.5, sub.moving_mean.shape))
                sub.moving_variance.assign(np.random.uniform(0.5, 2.0, sub.moving_variance.shape))
    x = np.random.RandomState(0).randn(2, 8, 8, in_channels).astype(np.float32)
    expected = model(x, training=False).numpy()
    got = export.run_tflite(export.convert(model), x)
    size = (8 // stride) ** 2 * out_channels
    assert expected.shape == (2, len(mobile_ops.OPS) * size)
    for i, op in enumerate(mobile_ops.OPS):
        np.testing.assert_allclose(got[:, i * size:(i + 1) * size], expected[:, i * size:(i + 1) * size],
                                   rtol=1e-4, atol=1e-4, err_msg=f"{op} at stride {stride}")


def test_vocabulary_is_the_papers():
    assert len(mobile_ops.OPS) == 14 * 3  # 14 base ops, each plain / sigmoid SE / h-sigmoid SE
    spec = mobile_ops.parse_op("mbconv_k7_e3_hse")
    assert (spec.family, spec.kernel, spec.expansion, spec.se) == ("mbconv", 7, 3, "hse")
    assert mobile_ops.parse_op("shuffle_xception_se").family == "shuffle_xception"
    assert mobile_ops.parse_op("shufflenet_k5").kernel == 5


@pytest.mark.parametrize("name", ["mbconv_k9_e3", "sep_conv_5x5", "conv3x3", "shufflenet_k3_relu"])
def test_unknown_op_names_the_vocabulary(name):
    with pytest.raises(mobile_ops.UnknownOpError, match="vocabulary"):
        mobile_ops.build_op(name, 16, 1)


def test_inverted_residual_shapes_residual_and_macs():
    x = tf.random.normal([1, 8, 8, 16])
    op = mobile_ops.build_op("mbconv_k3_e6", 16, 1)
    y = op(x, training=False)
    assert y.shape == (1, 8, 8, 16) and op.residual
    # expand 16->96 at 8x8, depthwise 3x3 on 96, project 96->16
    assert mobile_ops.layer_macs(op, (8, 8, 16)) == 64 * 16 * 96 + 64 * 96 * 9 + 64 * 96 * 16
    strided = mobile_ops.build_op("mbconv_k3_e6", 24, 2)
    assert strided(x).shape == (1, 4, 4, 24) and not strided.residual


def test_shuffle_unit_keeps_half_the_channels_at_stride_1():
    x = tf.random.normal([1, 8, 8, 16])
    op = mobile_ops.build_op("shufflenet_k3", 16, 1)
    y = op(x, training=False).numpy()
    # The untouched half of the input reappears, interleaved, in the even output channels.
    np.testing.assert_allclose(y[..., 0::2], x.numpy()[..., :8], rtol=1e-6)


def test_se_gates_differ():
    tf.keras.utils.set_random_seed(1)
    x = tf.random.normal([1, 4, 4, 16])
    sig = mobile_ops.SqueezeExcite("se")
    hsig = mobile_ops.SqueezeExcite("hse")
    sig(x)
    hsig(x)
    hsig.set_weights(sig.get_weights())
    assert not np.allclose(sig(x).numpy(), hsig(x).numpy())
    with pytest.raises(ValueError, match="h-sigmoid"):
        mobile_ops.SqueezeExcite("tanh")
