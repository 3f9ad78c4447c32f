"""Single-DARTS and DARTS train steps on the real embedded data, tiny supernets."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfnas.methods.differentiable import BilevelSearch, SingleLevelSearch
from tfnas.supernets.differentiable import DartsSupernet, DifferentiableSupernet, NasBench201Supernet
from tfnas.supernets.mixed_cell import MixedCell

keras = tf.keras


def _batch(mnist, start: int, size: int = 16):
    x = (mnist.train_images[start:start + size].astype(np.float32) / 255.0 - mnist.mean) / mnist.std
    return tf.constant(x), tf.constant(mnist.train_labels[start:start + size].astype(np.int32))


def _model(kind: str, space: str, order: int = 1, **kwargs):
    tf.keras.utils.set_random_seed(0)
    net = DartsSupernet(10, 4, 3, **kwargs) if space == "darts" else NasBench201Supernet(10, 4, 1, **kwargs)
    net(tf.zeros([1, 28, 28, 1]))
    arch_opt = keras.optimizers.Adam(3e-4, beta_1=0.5, epsilon=1e-8)
    model = SingleLevelSearch(net, arch_opt) if kind == "single" else BilevelSearch(net, arch_opt, order=order)
    model.compile(optimizer=keras.optimizers.SGD(0.025, momentum=0.9))
    model.build_optimizers()
    return model


@pytest.mark.parametrize("space", ["darts", "nasbench201"])
@pytest.mark.parametrize("kind, order", [("single", 1), ("darts", 1), ("darts", 2)])
def test_architecture_gradients_are_nonzero_and_the_step_moves_alpha(mnist, space, kind, order):
    model = _model(kind, space, order)
    train, val = _batch(mnist, 0), _batch(mnist, 100)
    _, _, w_grads, a_grads = model._forward_backward(*train)
    for g in a_grads:
        assert float(tf.reduce_max(tf.abs(g))) > 0.0
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in w_grads if g is not None) > 0.0
    before = [v.numpy().copy() for v in model.supernet.arch_variables]
    weights_before = model.supernet.weight_variables[0].numpy().copy()
    data = train if kind == "single" else (train, val)
    logs = tf.function(model.train_step)(data)
    assert np.isfinite(float(logs["loss"]))
    for b, v in zip(before, model.supernet.arch_variables):
        assert np.abs(v.numpy() - b).max() > 0.0
    assert np.abs(model.supernet.weight_variables[0].numpy() - weights_before).max() > 0.0


def test_single_darts_updates_alpha_from_the_gradient_of_the_same_batch(mnist):
    """Adam's first step moves each alpha by about -lr * sign(g + decay * alpha), g taken before any update."""
    model = _model("single", "nasbench201")
    batch = _batch(mnist, 0, 32)
    _, _, _, (g,) = model._forward_backward(*batch)
    alpha = model.supernet.arch_variables[0]
    expected = -np.sign(g.numpy() + model.arch_weight_decay * alpha.numpy())
    before = alpha.numpy().copy()
    tf.function(model.train_step)(batch)
    moved = np.sign(alpha.numpy() - before)
    significant = np.abs(g.numpy()) > 1e-6
    assert significant.sum() > 10
    assert (moved[significant] == expected[significant]).mean() == 1.0


class _SmoothSupernet(DifferentiableSupernet):
    """A supernet with smooth ops (tanh), where finite differences of gradients must converge."""

    def __init__(self):
        super().__init__(("tanh_a", "tanh_b", "none"), ("cell",), num_edges=2, alpha_init_std=0.5)
        self.mix = [[keras.layers.Dense(16, activation="tanh") for _ in range(2)] for _ in range(2)]
        self.head = keras.layers.Dense(10)

    def call(self, x, training=None):
        w = self.op_weights()["cell"]
        h = keras.layers.Flatten()(x)
        for e in range(2):
            h = tf.add_n([w[e, k] * self.mix[e][k](h) for k in range(2)]) + w[e, 2] * 0.0
        return self.head(h)


def test_finite_difference_hessian_vector_product_matches_autodiff(mnist):
    """DARTS' second-order term d/dalpha (dL_train/dw . v) by central differences equals autodiff.

    Checked on a smooth supernet: in ReLU networks finite differences of gradients are dominated by
    kinks (DARTS accepts that approximation), so only a smooth loss can test the formula itself.
    """
    tf.keras.utils.set_random_seed(0)
    net = _SmoothSupernet()
    x, y = _batch(mnist, 0, 64)
    net(x)
    model = BilevelSearch(net, keras.optimizers.Adam(3e-4), order=2, finite_difference_scale=0.01)
    model.compile(optimizer=keras.optimizers.SGD(0.025))
    rng = np.random.RandomState(0)
    vector = [rng.randn(*v.shape) for v in net.weight_variables]
    norm = np.sqrt(sum((v ** 2).sum() for v in vector))
    vector = [tf.constant((v / norm).astype(np.float32)) for v in vector]  # a gradient-sized direction
    fd = model.finite_difference_hvp(x, y, vector)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = model.loss_fn(y, net(x, training=True))
        g = inner.gradient(loss, net.weight_variables)
        dot = tf.add_n([tf.reduce_sum(a * b) for a, b in zip(g, vector)])
    (exact,) = outer.gradient(dot, net.arch_variables)
    fd, exact = fd[0].numpy(), exact.numpy()
    assert np.abs(exact).max() > 1e-3
    np.testing.assert_allclose(fd, exact, rtol=0.05, atol=0.02 * np.abs(exact).max())


def test_second_order_step_runs_and_differs_from_first_order(mnist):
    train, val = _batch(mnist, 0), _batch(mnist, 100)
    first, second = _model("darts", "nasbench201", 1), _model("darts", "nasbench201", 2)
    tf.function(first.train_step)((train, val))
    tf.function(second.train_step)((train, val))
    a1, a2 = first.supernet.arch_variables[0].numpy(), second.supernet.arch_variables[0].numpy()
    assert np.all(np.isfinite(a2)) and not np.allclose(a1, a2)


def test_sigmoid_activation_scores_ops_independently():
    net = NasBench201Supernet(10, 4, 1, arch_activation="sigmoid")
    net(tf.zeros([1, 8, 8, 1]))
    net.alphas["cell"].assign(tf.zeros([6, 5]))
    np.testing.assert_allclose(net.op_weights_numpy()["cell"], 0.5)
    net2 = NasBench201Supernet(10, 4, 1, temperature=0.5)
    net2(tf.zeros([1, 8, 8, 1]))
    net2.alphas["cell"].assign(tf.constant([[1.0, 0, 0, 0, 0]] * 6))
    w = net2.op_weights_numpy()["cell"][0]
    np.testing.assert_allclose(w[0] / w[1], np.exp(2.0), rtol=1e-5)


def test_virtual_step_is_the_weight_optimizers_real_next_step_momentum_included(mnist):
    """Second-order DARTS' w' = w - lr * (momentum term + g + decay * w): the optimizer's own next step."""
    model = _model("darts", "nasbench201", 2)
    train, val = _batch(mnist, 0), _batch(mnist, 100)
    tf.function(model.train_step)((train, val))  # one real step: the momentum slots are no longer zero
    weights, optimizer = model.supernet.weight_variables, model.optimizer
    state_before = [v.numpy().copy() for v in optimizer.variables]
    w0 = [v.numpy().copy() for v in weights]
    _, _, g, _ = model._forward_backward(*train)
    g = [np.zeros_like(w) if t is None else t.numpy() for t, w in zip(g, w0)]
    decayed = [gi + model.weight_decay * w for gi, w in zip(g, w0)]

    tf.function(model.virtual_step)([tf.constant(t) for t in g])
    virtual = [v.numpy().copy() for v in weights]
    for v, before in zip(optimizer.variables, state_before):  # slots and iteration count restored
        np.testing.assert_array_equal(v.numpy(), before)
    without_momentum = [w - 0.025 * d for w, d in zip(w0, decayed)]
    assert max(np.abs(a - b).max() for a, b in zip(virtual, without_momentum)) > 1e-4  # the momentum term is in

    for v, w in zip(weights, w0):
        v.assign(w)
    optimizer.apply_gradients(zip([tf.constant(d) for d in decayed], weights))
    for v, wv in zip(weights, virtual):  # the real step the optimizer takes from the same gradient
        np.testing.assert_allclose(v.numpy(), wv, rtol=1e-5, atol=1e-6)


def test_second_order_refuses_an_optimizer_whose_state_it_cannot_restore():
    from tfnas.errors import ConfigError

    tf.keras.utils.set_random_seed(0)
    net = NasBench201Supernet(10, 4, 1)
    net(tf.zeros([1, 28, 28, 1]))
    model = BilevelSearch(net, keras.optimizers.Adam(3e-4), order=2)
    with pytest.raises(ConfigError, match="second-order DARTS needs a tf.keras"):
        model.compile(optimizer=keras.optimizers.legacy.SGD(0.025, momentum=0.9))


@pytest.mark.parametrize("space", ["darts", "nasbench201"])
def test_bfloat16_architecture_gradient_agrees_in_sign_with_float32(mnist, space):
    from tfnas.training.precision import precision_policy

    models = {}
    for policy in ("float32", "mixed_bfloat16"):
        with precision_policy(policy):
            models[policy] = _model("single", space)
    models["mixed_bfloat16"].supernet.set_weights(models["float32"].supernet.get_weights())
    cells = [l for l in models["mixed_bfloat16"].supernet._flatten_layers() if isinstance(l, MixedCell)]
    assert cells and all(c.compute_dtype == "bfloat16" for c in cells)  # the cells really run in bfloat16
    batch = _batch(mnist, 0, 32)
    grads = {p: np.concatenate([g.numpy().ravel() for g in m._forward_backward(*batch)[3]]) for p, m in models.items()}
    assert all(v.dtype == tf.float32 for v in models["mixed_bfloat16"].supernet.arch_variables)
    significant = np.abs(grads["float32"]) > 0.1 * np.abs(grads["float32"]).max()
    assert significant.sum() >= 10
    agree = np.sign(grads["float32"][significant]) == np.sign(grads["mixed_bfloat16"][significant])
    assert agree.mean() >= 0.8


def test_bfloat16_search_learns_on_the_embedded_data(mnist_small):
    from tfnas.training.precision import precision_policy

    with precision_policy("mixed_bfloat16"):
        model = _model("single", "nasbench201")
    assert tf.keras.mixed_precision.global_policy().name == "float32"  # restored after the block
    x = (mnist_small.train_images.astype(np.float32) / 255.0 - mnist_small.mean) / mnist_small.std
    data = tf.data.Dataset.from_tensor_slices((x, mnist_small.train_labels.astype(np.int32))).batch(50)
    history = model.fit(data.repeat(), epochs=3, steps_per_epoch=20, verbose=0).history
    assert history["accuracy"][-1] > 0.5 and history["loss"][-1] < history["loss"][0]  # chance: 0.1
