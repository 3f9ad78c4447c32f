"""MANAS' sampled DARTS supernet: a step moves only the sampled ops (weights and momentum of the others
exactly unchanged), a genotype's path computes exactly its child network once the weights are copied,
and recomputing cells in the backward pass changes neither gradients nor BN statistics."""
from __future__ import annotations

import numpy as np
import pytest

import tfnas  # noqa: F401
import tensorflow as tf

from tfnas.spaces import darts, manas
from tfnas.supernets.manas_supernet import ManasSupernet
from tfnas.supernets.path_sampling import PathSGD

keras = tf.keras
SHAPE = (8, 8, 1)
OPS = ("none", "skip_connect", "max_pool_3x3", "sep_conv_3x3")  # zero, identity / FactorizedReduce, pool + BN, conv
K = len(OPS)  # 3 cells of 2 initial channels: 42 agents over 4 ops keep the supernet quick to build


def make(checkpoint=True, share_cells=False, seed=0):
    tf.keras.utils.set_random_seed(seed)
    net = ManasSupernet(10, 2, 3, share_cells=share_cells, ops=OPS, checkpoint=checkpoint, input_shape=SHAPE)
    net.compile(optimizer=PathSGD(0.1, momentum=0.9, weight_decay_l2=1e-2).attach(net),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return net


def batch(seed):
    g = tf.random.Generator.from_seed(seed)
    return g.normal([4, *SHAPE]), g.uniform([4], 0, 10, tf.int32)


def snapshot(net):
    slots = {net.optimizer._var_key(v): net.optimizer.momentums[net.optimizer._index_dict[net.optimizer._var_key(v)]]
             for v in net.trainable_variables}
    return ({v.ref(): v.numpy().copy() for v in net.variables},
            {k: m.numpy().copy() for k, m in slots.items()}, slots)


def has_state(agent, op):
    """Whether the op of ``agent``'s edge has weights or BN statistics (pools: a BN; skip: only when strided)."""
    strided = agent // 14 in manas.reduction_cells(3) and darts.EDGES[agent % 14][1] < 2
    return op in ("sep_conv_3x3", "max_pool_3x3") or (op == "skip_connect" and strided)


@pytest.fixture(scope="module")
def trained():
    """A supernet after two eager steps on two different paths (as the MANAS driver runs them)."""
    net = make()
    rng = np.random.default_rng(3)
    paths = [rng.integers(0, K, 42).astype(np.int32) for _ in range(2)]
    states = [snapshot(net)]
    for k, path in enumerate(paths):
        net.use_path(path)
        net.train_step(batch(k))
        states.append(snapshot(net))
    return net, paths, states


def test_a_step_changes_only_the_sampled_ops_weights_statistics_and_momentum(trained):
    net, paths, states = trained
    opt = net.optimizer
    for step, path in enumerate(paths):
        (before, slots_before, slots), (after, slots_after, _) = states[step], states[step + 1]
        moved = set()
        for v, (agent, op) in net.option_variables():
            changed = not np.array_equal(before[v.ref()], after[v.ref()])
            on_path = int(path[agent]) == op
            if not on_path:  # untaken: weights, BN statistics and momentum exactly as they were
                assert not changed, (v.name, step)
                if v.trainable:
                    key = opt._var_key(v)
                    np.testing.assert_array_equal(slots_before[key], slots_after[key])
            elif changed:
                moved.add((agent, op))
        parametric = {(a, int(path[a])) for a in range(42) if has_state(a, OPS[path[a]])}
        assert parametric <= moved  # every taken op with weights or statistics moved (decay and BN at least)
    shared = [v for v in net.trainable_variables if v.ref() not in {o.ref() for o, _ in net.option_variables()}]
    assert all(not np.array_equal(states[0][0][v.ref()], states[2][0][v.ref()]) for v in shared)


def test_first_path_momentum_survives_a_step_on_another_path(trained):
    net, paths, states = trained
    opt = net.optimizer
    only_first = [(v, a, o) for v, (a, o) in net.option_variables()
                  if v.trainable and int(paths[0][a]) == o and int(paths[1][a]) != o]
    assert only_first
    for v, _, _ in only_first:
        key = opt._var_key(v)
        assert np.any(states[1][1][key])  # momentum built in step 1 ...
        np.testing.assert_array_equal(states[1][1][key], states[2][1][key])  # ... neither decayed nor applied in step 2


@pytest.fixture(scope="module")
def shared():
    return make(share_cells=True)


def test_a_genotype_path_computes_exactly_its_child_network(trained, shared):
    net, _, _ = trained
    genotype = manas.derive_genotype(np.random.default_rng(7).random((42, K)), 3, ops=OPS)
    assert {"sep_conv_3x3", "max_pool_3x3", "skip_connect"} <= set(genotype.ops)
    child = net.export_child(genotype, SHAPE)
    x, _ = batch(9)
    path = net.path_of(genotype)
    np.testing.assert_array_equal(net(x, training=False, path=path).numpy(), child(x, training=False).numpy())
    darts_genotype = manas.derive_genotype(np.random.default_rng(8).random((28, K)), 3, share_cells=True, ops=OPS)
    np.testing.assert_array_equal(shared(x, training=False, path=shared.path_of(darts_genotype)).numpy(),
                                  shared.export_child(darts_genotype, SHAPE)(x, training=False).numpy())


def test_shared_cell_agents_own_their_op_in_every_cell_of_their_type(shared):
    net = shared
    assert len(net.num_choices) == 28
    owners = {}
    for v, owner in net.option_variables():
        owners.setdefault(owner, []).append(v)
    cells_of = {owner: {i for i, cell in enumerate(net.cells) if any(v.ref() in {w.ref() for w in cell.variables}
                                                                     for v in vs)} for owner, vs in owners.items()}
    conv = OPS.index("sep_conv_3x3")
    assert cells_of[(0, conv)] == {0}  # normal cells of a 3-cell network: 0; reductions: 1, 2
    assert cells_of[(14, conv)] == {1, 2}


def set_recompute(net, on):
    net.checkpoint = on
    for cell in net.cells:
        cell.recompute_edges = on


def test_recomputing_cells_in_backward_changes_neither_gradients_nor_bn_statistics(trained):
    net, _, _ = trained
    x, y = batch(4)
    net.use_path(np.random.default_rng(1).integers(0, K, 42).astype(np.int32))
    statistics = [v for v in net.non_trainable_variables if "moving" in v.name]
    start = [v.numpy() for v in statistics]
    grads, after = [], []
    for on in (False, True):
        for v, value in zip(statistics, start):
            v.assign(value)
        set_recompute(net, on)
        with tf.GradientTape() as tape:
            loss = net.compiled_loss(y, net(x, training=True))
        grads.append(tape.gradient(loss, net.trainable_variables, unconnected_gradients="zero"))
        after.append([v.numpy() for v in statistics])
    set_recompute(net, True)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
    assert any(not np.array_equal(a, b) for a, b in zip(start, after[0]))  # the batch moved some statistics ...
    for a, b in zip(*after):  # ... and the recomputation did not count it a second time
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
