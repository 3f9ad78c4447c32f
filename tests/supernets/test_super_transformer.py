"""Super-transformer: inherited children compute the sub-transformer; only the sampled path trains."""
from __future__ import annotations

import numpy as np
import pytest

import tfnas  # noqa: F401
import tensorflow as tf

from tfnas import data as data_lib
from tfnas.spaces import vit
from tfnas.supernets.super_transformer import PathAdamW, SuperTransformer, light_graph_optimization

keras = tf.keras
CONFIG = vit.space_config("cpu_28", num_slots=4)
SPACE = vit.ViTSpace(CONFIG, input_channels=1, num_classes=10)


def _randomise(model: keras.Model, seed: int) -> None:
    """Weights of O(1) outputs, so that a 1e-5 agreement means the same function, not two tiny numbers."""
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        fan_in = v.shape[0] if len(v.shape) == 2 else int(np.prod(v.shape[:-1])) if len(v.shape) == 4 else 4
        v.assign(rng.normal(0, 1.0 / np.sqrt(max(fan_in, 1)), v.shape).astype(np.float32))


def _supernet(weight_sharing="left", **kwargs) -> SuperTransformer:
    net = SuperTransformer(SPACE, weight_sharing, seed=3, **kwargs)
    net.set_identity_probability(0.3)
    return net


@pytest.fixture(scope="module")
def images(mnist):
    return data_lib.representative_images(mnist, 4)


@pytest.mark.parametrize("side", ["left", "right"])
def test_inherited_child_computes_the_supernet_subnet(side, images):
    supernet = _supernet(side)
    _randomise(supernet, 0)
    forward = tf.function(lambda x, path: supernet.forward_side(x, path, side))
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(20):
        arch = SPACE.sample(rng, 0.3)
        expected = forward(images, tf.constant(SPACE.path(arch))).numpy()
        child = supernet.export_child(arch, side)
        worst = max(worst, float(np.abs(child(images).numpy() - expected).max()))
        assert np.abs(expected).max() > 0.1
    assert worst <= 1e-5


def test_bcnet_sums_the_left_and_right_subnets(images):
    supernet = _supernet("bcnet")
    _randomise(supernet, 2)
    for seed in range(2):
        arch = SPACE.sample(np.random.default_rng(seed), 0.2)
        both = supernet(images, path=SPACE.path(arch)).numpy()
        children = supernet.export_child(arch, "left")(images) + supernet.export_child(arch, "right")(images)
        np.testing.assert_allclose(both, children.numpy(), atol=2e-5)


def test_paths_are_stateless_and_draw_identity_with_the_set_probability():
    supernet = _supernet()
    np.testing.assert_array_equal(supernet.sample_path(11).numpy(), supernet.sample_path(11).numpy())
    draws = np.stack([supernet.sample_path(s).numpy() for s in range(400)])
    heads = draws[:, [SPACE.slot_columns(i)[0] for i in range(CONFIG.num_slots)]]
    assert abs((heads == 0).mean() - 0.3) < 0.05
    assert (draws < np.asarray(SPACE.num_choices)).all()


@pytest.fixture(scope="module")
def one_step(mnist):
    """A supernet after one training step (CutMix on), its path, and its weights before."""
    tf.keras.utils.set_random_seed(0)
    supernet = _supernet(cutmix_alpha=1.0)
    supernet.compile(optimizer=PathAdamW(1e-2).attach(supernet))
    before = {v.ref(): v.numpy().copy() for v in supernet.trainable_variables}
    stream = data_lib.train_stream(mnist, None, 16, seed=0, steps_per_epoch=1)
    with light_graph_optimization():
        history = supernet.fit(stream, epochs=1, steps_per_epoch=1, verbose=0)
    return supernet, supernet.sample_path(0).numpy(), before, history.history["loss"][0]


def test_a_step_trains_only_the_sampled_sub_transformer(one_step):
    supernet, path, before, loss = one_step
    assert np.isfinite(loss)
    changed = {v.ref() for v in supernet.trainable_variables if not np.array_equal(v.numpy(), before[v.ref()])}
    for v, (choice, options) in supernet.variable_owners():
        assert (v.ref() in changed) == (int(path[choice]) in options), v.name
    assert all(v.ref() in changed for v in supernet.classifier.trainable_variables)


def test_head_counts_have_their_own_query_key_and_share_value_and_projection():
    supernet = _supernet()
    block = supernet.blocks[0]
    owners = {v.ref(): options for v, (choice, options) in supernet.variable_owners()
              if choice == SPACE.slot_columns(0)[0]}
    heads = len(CONFIG.head_options)
    for j in range(heads):
        for layer in block.option_layers(j):
            assert all(owners[v.ref()] == (j + 1,) for v in layer.weights)
    a = block.attention
    for layer in (a.values, a.projection):
        assert all(owners[v.ref()] == tuple(range(1, heads + 1)) for v in layer.weights)
    queries = {v.ref() for j in range(heads) for v in a.queries[j].weights}
    assert len(queries) == 2 * heads  # a kernel and a bias per option: separate variables


def test_path_adamw_is_pytorch_adamw_on_an_always_used_variable():
    var = tf.Variable(np.array([[0.5, -1.0], [2.0, 0.1]], np.float32), name="kernel")
    opt = PathAdamW(0.1, weight_decay=0.05)
    opt.build([var])
    grads = [np.array([[0.3, -0.2], [0.1, 0.4]], np.float32), np.array([[-0.1, 0.2], [0.0, 0.5]], np.float32)]
    w, m, v = var.numpy().astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        opt.apply_path_update([(tf.constant(g), var)])
        w = w * (1 - 0.1 * 0.05)  # decoupled decay, then the Adam step (torch.optim.AdamW)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        w = w - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(var.numpy(), w, rtol=1e-5, atol=1e-6)
