"""The batched mixed cell computes exactly the DARTS / NAS-Bench-201 weighted sum of per-edge ops."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfnas.ops import cell_ops
from tfnas.spaces import darts as darts_space
from tfnas.spaces import nasbench201 as nb201_space
from tfnas.supernets.mixed_cell import FACTORIZED, MixedCell


def _per_edge_op(cell: MixedCell, op: str, edge: int, stride: int, table):
    """A cell_ops layer for (op, edge) carrying the cell's batched weights for that edge."""
    layer = table[op](cell.channels, stride, False)
    x = tf.zeros([1, 8, 8, cell.channels])
    layer(x, training=True)  # build
    if op in cell.conv_ops or (op == "skip_connect" and stride == 2):
        w = cell.edge_weights(FACTORIZED if op == "skip_connect" else op, edge)
        if isinstance(layer, cell_ops.SepConv):
            layer.stage1.depthwise.kernel.assign(w["dw1"])
            layer.stage1.pointwise.kernel.assign(w["pw1"])
            layer.stage2.depthwise.kernel.assign(w["dw2"])
            layer.stage2.pointwise.kernel.assign(w["pw2"])
        elif isinstance(layer, cell_ops.DilConv):
            layer.depthwise.kernel.assign(w["dw"])
            layer.pointwise.kernel.assign(w["pw"])
        elif isinstance(layer, cell_ops.ReLUConvBN):
            layer.conv.kernel.assign(w["conv"])
        elif isinstance(layer, cell_ops.FactorizedReduce):
            layer.conv1.kernel.assign(w["conv1"])
            layer.conv2.kernel.assign(w["conv2"])
        else:
            raise AssertionError(type(layer))
    return layer


def _edge_ops(cell: MixedCell, table):
    return lambda op, edge, stride, _: _per_edge_op(cell, op, edge, stride, table)


@pytest.mark.parametrize("reduction", [False, True])
@pytest.mark.parametrize("checkpoint", [False, True])
def test_darts_cell_equals_explicit_sum_of_ops(reduction, checkpoint, explicit_cell):
    tf.random.set_seed(1)
    c = 4
    cell = MixedCell(darts_space.OPS, c, 2, 4, reduction=reduction, pool_bn=True, checkpoint=checkpoint)
    states = [tf.random.normal([3, 8, 8, c]), tf.random.normal([3, 8, 8, c])]
    weights = tf.nn.softmax(tf.random.normal([14, 8]), axis=-1)
    got = cell(states, weights, training=True)
    want = explicit_cell(cell, states, weights.numpy(), _edge_ops(cell, cell_ops.DARTS_OPS))
    assert got.shape == want.shape == (3, 4 if reduction else 8, 4 if reduction else 8, 4 * c)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)


def test_nasbench201_cell_equals_explicit_sum_of_ops(explicit_cell):
    tf.random.set_seed(2)
    c = 4
    cell = MixedCell(nb201_space.OPS, c, 1, 3, pool_bn=False, output="last")
    states = [tf.random.normal([3, 8, 8, c])]
    weights = tf.nn.softmax(tf.random.normal([6, 5]), axis=-1)
    got = cell(states, weights, training=True)
    want = explicit_cell(cell, states, weights.numpy(), _edge_ops(cell, cell_ops.NB201_OPS))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)


def _plain_and_checkpointed_gradients(seed: int, reduction: bool, dtype=tf.float32):
    """A DARTS cell and its checkpointed twin with the same weights, and both cells' gradients of
    the same loss (architecture weights first, then the cell's trainable variables)."""
    tf.random.set_seed(seed)
    c = 4
    plain = MixedCell(darts_space.OPS, c, 2, 4, reduction=reduction)
    ckpt = MixedCell(darts_space.OPS, c, 2, 4, reduction=reduction, checkpoint=True)
    states = [tf.cast(tf.random.normal([2, 8, 8, c]), dtype) for _ in range(2)]
    weights = tf.Variable(tf.nn.softmax(tf.random.normal([14, 8]), axis=-1))
    plain(states, weights, training=False)
    ckpt(states, weights, training=False)
    ckpt.set_weights(plain.get_weights())

    def grads(cell):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(tf.cast(cell(states, weights, training=True), tf.float32)))
        return tape.gradient(loss, [weights] + cell.trainable_variables)

    return plain, ckpt, tf.function(lambda: grads(plain))(), tf.function(lambda: grads(ckpt))()


def test_checkpointed_cell_has_the_same_gradients_and_updates_statistics_once():
    plain, ckpt, g_plain, g_ckpt = _plain_and_checkpointed_gradients(3, reduction=True)
    for a, b in zip(g_plain, g_ckpt):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
    for a, b in zip(plain.non_trainable_variables, ckpt.non_trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    moved = [v for v in ckpt.non_trainable_variables if "moving_mean" in v.name]
    assert any(np.abs(v.numpy()).max() > 0 for v in moved)


def test_checkpointed_cell_under_bfloat16_has_the_plain_cells_gradients():
    # Under a mixed policy the cell's kernels are autocast variables; the checkpointed backward pass
    # must still find each bank it read (it splits every bank once and assembles its gradient).
    from tfnas.training.precision import precision_policy

    with precision_policy("mixed_bfloat16"):
        _, ckpt, g_plain, g_ckpt = _plain_and_checkpointed_gradients(4, reduction=False, dtype=tf.bfloat16)
    assert len(g_ckpt) == 1 + len(ckpt.trainable_variables) and all(g is not None for g in g_ckpt)
    for a, b in zip(g_plain, g_ckpt):
        a, b = tf.cast(a, tf.float32).numpy(), tf.cast(b, tf.float32).numpy()
        assert np.abs(b).max() > 0
        np.testing.assert_allclose(a, b, rtol=0.05, atol=0.05 * np.abs(a).max())
