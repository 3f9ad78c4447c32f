"""The batched binary mixed cell computes exactly the weighted sum of the per-edge Larq ops."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfnas.ops import binary_ops
from tfnas.ops.binary_ops import Binarization, BinaryOpConfig
from tfnas.spaces import bats as bats_space
from tfnas.spaces import darts as darts_space
from tfnas.supernets import binary_batched_ops as bb
from tfnas.errors import ConfigError
from tfnas.spaces.bats_binary_network import EVAL_DEFAULTS, lce_groups
from tfnas.supernets.bats_supernet import BatsSupernet, search_groups
from tfnas.supernets.mixed_cell import FACTORIZED, MixedCell

keras = tf.keras


def _cell(naive: bool, reduction: bool, c: int, groups: int, binarization: Binarization) -> MixedCell:
    if naive:
        return MixedCell(darts_space.OPS, c, 2, 4, reduction=reduction, pool_bn=True,
                         conv_ops=bb.naive_conv_ops(binarization), factorized_reduce=bb.naive_factorized_reduce(binarization),
                         input_transform="identity")
    return MixedCell(bats_space.OPS, c, 2, 4, reduction=reduction, pool_bn=True,
                     conv_ops=bb.bats_conv_ops(binarization, groups, 2),
                     factorized_reduce=bb.bats_factorized_reduce(binarization), input_transform="batch_norm")


def _copy(layer_model: keras.Model, weights: dict[str, np.ndarray]) -> None:
    """Load one edge's bank slices into the per-edge op model (kernels by role, PReLU slopes reshaped)."""
    convs = [l for l in layer_model.layers if hasattr(l, "kernel") or hasattr(l, "depthwise_kernel")]
    prelus = [l for l in layer_model.layers if isinstance(l, keras.layers.PReLU)]
    names = [n for n in weights if "moving" not in n and n != "prelu"]
    assert len(convs) == len(names), (layer_model.name, [l.name for l in convs], names)
    for layer, name in zip(convs, names):  # layer order follows the bank kernel order
        target = layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel
        target.assign(weights[name])
    for layer in prelus:
        layer.alpha.assign(weights["prelu"].reshape(layer.alpha.shape))


def _explicit(cell: MixedCell, states, weights, naive: bool, groups: int, binarization: Binarization,
              explicit_cell) -> tf.Tensor:
    config = BinaryOpConfig(groups=groups, shuffle_groups=2, affine=False, binarization=binarization,
                            binary_downsample=False)
    make = binary_ops.naive_op if naive else binary_ops.bats_op

    def edge_op(op: str, edge: int, stride: int, source: tf.Tensor) -> keras.Model:
        layer = make(op, cell.channels, stride, source.shape[1:], config, f"e{edge}_{op}")
        if op in cell.conv_ops:
            _copy(layer, cell.edge_weights(op, edge))
        elif op == "skip_connect" and stride == 2:
            _copy(layer, cell.edge_weights(FACTORIZED, edge))
        return layer

    return explicit_cell(cell, states, weights, edge_op)


def _power_of_two_binary_kernels(cell: MixedCell) -> None:
    """Binary kernels drawn from {-0.5, 0.5}: the scale mean|W| is exactly 0.5, so sums of binary
    products are exact in any order. A binary sum over an even number of taps (at SAME-padded
    borders) can be exactly 0; with inexact scales the batched and the per-edge convolution round
    it to +-1e-8 differently and the next sign() flips -- a tie, not a difference between the ops."""
    rng = np.random.RandomState(0)
    for op, batched in cell.batched.items():
        for spec in batched.kernels:
            if spec.clip and spec.kind in ("pointwise", "depthwise"):
                bank = cell.banks[op][spec.name]
                bank.assign(0.5 * np.sign(rng.randn(*bank.shape) + 1e-9).astype(np.float32))


@pytest.mark.parametrize("naive", [False, True])
def test_each_binary_op_of_the_batched_cell_equals_its_larq_layer(naive, explicit_cell, reduction=True):
    """One op at a time on every edge (one-hot op weights), fully binary. A reduction cell has
    both stride-2 edges (from the cell inputs) and stride-1 ones (from its nodes)."""
    tf.random.set_seed(3)
    c, groups = 4, 2
    binarization = Binarization(activations=1.0, weights=1.0)
    cell = _cell(naive, reduction, c, groups, binarization)
    states = [tf.random.normal([2, 8, 8, c]), tf.random.normal([2, 8, 8, c])]
    cell(states, tf.ones([14, len(cell.ops)]) / len(cell.ops), training=True)  # build
    _power_of_two_binary_kernels(cell)
    for k, op in enumerate(cell.ops):
        if op == "none":
            continue
        weights = np.zeros([14, len(cell.ops)], np.float32)
        weights[:, k] = 1.0
        got = cell(states, tf.constant(weights), training=True)
        want = _explicit(cell, states, weights, naive, groups, binarization, explicit_cell)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4, err_msg=op)


@pytest.mark.parametrize("naive", [False, True])
def test_mixed_cell_weighted_sum_of_binary_space_ops(naive, explicit_cell, reduction=True):
    """All ops mixed with random weights. Real-valued quantizers here: with sign, float rounding of
    the batched vs per-edge sums can flip values at 0 and the comparison would test luck."""
    tf.random.set_seed(4)
    c, groups = 4, 2
    binarization = Binarization(activations=0.0, weights=0.0)
    cell = _cell(naive, reduction, c, groups, binarization)
    states = [tf.random.normal([2, 8, 8, c]), tf.random.normal([2, 8, 8, c])]
    weights = tf.nn.softmax(tf.random.normal([14, 8]), axis=-1)
    got = cell(states, weights, training=True)
    want = _explicit(cell, states, weights.numpy(), naive, groups, binarization, explicit_cell)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)


def test_progressive_binarisation_interpolates_real_and_binary_supernets():
    """A progressive supernet at fraction 0 is the real-valued one, at 1 the binary one (same weights)."""
    x = tf.random.stateless_normal([2, 12, 12, 1], seed=[1, 2])
    kw = dict(init_channels=4, layers=3, groups=2, shuffle_groups=2, checkpoint=False)
    progressive = BatsSupernet(10, binarize="weights_and_activations", progressive=True, **kw)
    real = BatsSupernet(10, binarize="none", **kw)
    binary = BatsSupernet(10, binarize="weights_and_activations", **kw)
    for net in (progressive, real, binary):
        net(x)
    real.set_weights(progressive.get_weights()[:len(real.get_weights())])
    binary.set_weights(progressive.get_weights()[:len(binary.get_weights())])
    for fraction, reference in ((0.0, real), (1.0, binary)):
        progressive.activation_binarization.assign(fraction)
        progressive.weight_binarization.assign(fraction)
        np.testing.assert_allclose(progressive(x, training=False).numpy(), reference(x, training=False).numpy(),
                                   rtol=1e-4, atol=1e-4)
    progressive.activation_binarization.assign(0.5)
    mid = progressive(x, training=False).numpy()
    assert not np.allclose(mid, real(x, training=False).numpy(), atol=1e-3)


def test_search_groups_are_the_deployed_networks_groups():
    """Unset, the search network's grouped binary convs get the groups of the network the genotype
    will be trained and exported as (LCE's rule at its width), not a width-dependent choice of its own."""
    assert search_groups(16, None) == lce_groups(EVAL_DEFAULTS["init_channels"]) == 2
    assert search_groups(8, None, deploy_channels=32) == 1 and search_groups(24, None, deploy_channels=96) == 3
    assert BatsSupernet(10, init_channels=16, layers=3, checkpoint=False).groups == 2
    assert search_groups(16, 4) == 4  # explicit: as asked
    with pytest.raises(ValueError, match="does not divide"):
        search_groups(16, 3)
    with pytest.raises(ConfigError, match="12 groups per binary conv.*--init_channels a multiple of 12"):
        search_groups(16, None, deploy_channels=384)
    with pytest.raises(ConfigError, match="--deploy_init_channels=48 is not a multiple of 32"):
        search_groups(16, None, deploy_channels=48)


def test_fixed_op_weights_replace_the_architecture_softmax():
    """Inside ``computing`` the cells read the given op weights: one-hot weights give what alphas whose
    softmax is that one-hot give; outside, the softmax is back."""
    x = tf.random.stateless_normal([4, 8, 8, 1], seed=[3, 4])
    net = BatsSupernet(10, init_channels=4, layers=3, groups=2, shuffle_groups=2, checkpoint=False)
    net(x)
    genotype = bats_space.derive_genotype(np.random.RandomState(0).rand(14, 8), np.random.RandomState(1).rand(14, 8))
    one_hot = bats_space.derived_op_weights(genotype)
    mixed = net(x, training=True).numpy()
    with net.computing(one_hot):
        fixed = net(x, training=True).numpy()
    np.testing.assert_allclose(net(x, training=True).numpy(), mixed, rtol=1e-5, atol=1e-5)
    assert not np.allclose(fixed, mixed, atol=1e-3)
    for name, w in one_hot.items():
        net.alphas[name].assign(100.0 * w)  # softmax(alpha / 1) is that one-hot in float32
    np.testing.assert_allclose(net(x, training=True).numpy(), fixed, rtol=1e-4, atol=1e-4)
