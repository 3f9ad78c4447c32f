"""Single-DARTS and DARTS train steps on the real embedded data, tiny supernets."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tfnas.graph_optimization import graph_optimization
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


def _train_batch(mnist):
    """The training batch every shared step (and the tests comparing against it) uses."""
    return _batch(mnist, 0)


@dataclasses.dataclass
class _Step:
    """A fresh model's gradients on the training batch and one train step on it, as numpy copies."""

    model: keras.Model
    initial_weights: list  # the supernet's weights before anything ran
    w_grads: list  # gradients at the initial weights, training batch (before the step)
    a_grads: list
    alphas_before: list
    alphas_after: list
    weight_before: np.ndarray  # the first weight variable
    weight_after: np.ndarray
    loss: float


@pytest.fixture(scope="module")
def stepped(mnist):
    """``stepped(kind, space, order)``: one train step of a fresh seeded model on the training batch
    (``_train_batch``) and 16 validation images from 100 on, taken once per configuration and read by
    every test that checks that same step (tracing a supernet step is most of each test's time)."""
    cache: dict[tuple, _Step] = {}

    def get(kind: str, space: str, order: int = 1) -> _Step:
        if (kind, space, order) not in cache:
            with graph_optimization("light"):  # Grappler's one-off rewrites were a third of these steps' time
                cache[(kind, space, order)] = _take_step(kind, space, order)
        return cache[(kind, space, order)]

    def _take_step(kind: str, space: str, order: int) -> _Step:
        model = _model(kind, space, order)
        initial = model.supernet.get_weights()
        train, val = _train_batch(mnist), _batch(mnist, 100)
        _, _, w_grads, a_grads = model._forward_backward(*train)
        numpy = lambda ts: [None if t is None else t.numpy().copy() for t in ts]  # noqa: E731
        alphas_before = numpy(model.supernet.arch_variables)
        weight_before = model.supernet.weight_variables[0].numpy().copy()
        logs = tf.function(model.train_step)(train if kind == "single" else (train, val))
        return _Step(
            model, initial, numpy(w_grads), numpy(a_grads), alphas_before, numpy(model.supernet.arch_variables),
            weight_before, model.supernet.weight_variables[0].numpy().copy(), float(logs["loss"]))

    return get


@pytest.mark.parametrize("space", ["darts", "nasbench201"])
@pytest.mark.parametrize("kind, order", [("single", 1), ("darts", 1), ("darts", 2)])
def test_architecture_gradients_are_nonzero_and_the_step_moves_alpha(stepped, space, kind, order):
    step = stepped(kind, space, order)
    for g in step.a_grads:
        assert float(np.max(np.abs(g))) > 0.0
    assert sum(float(np.sum(np.abs(g))) for g in step.w_grads if g is not None) > 0.0
    assert np.isfinite(step.loss)
    for b, v in zip(step.alphas_before, step.alphas_after):
        assert np.abs(v - b).max() > 0.0
    assert np.abs(step.weight_after - step.weight_before).max() > 0.0


def test_single_darts_updates_alpha_from_the_gradient_of_the_same_batch(stepped):
    """Adam's first step moves each alpha by about -lr * sign(g + decay * alpha), g taken before any update."""
    step = stepped("single", "nasbench201")
    (g,), (before,), (after,) = step.a_grads, step.alphas_before, step.alphas_after
    expected = -np.sign(g + step.model.arch_weight_decay * before)
    moved = np.sign(after - before)
    significant = np.abs(g) > 1e-6
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


def test_second_order_step_runs_and_differs_from_first_order(stepped):
    # the same seeded model and batches, one step of each order
    a1, a2 = stepped("darts", "nasbench201", 1).alphas_after[0], stepped("darts", "nasbench201", 2).alphas_after[0]
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


def test_virtual_step_is_the_weight_optimizers_real_next_step_momentum_included(stepped, mnist):
    """Second-order DARTS' w' = w - lr * (momentum term + g + decay * w): the optimizer's own next step."""
    # after one real step the momentum slots are no longer zero (this test moves the shared model's
    # weights; the other tests read the numpy copies the fixture took)
    model = stepped("darts", "nasbench201", 2).model
    train = _train_batch(mnist)
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
def test_bfloat16_architecture_gradient_agrees_in_sign_with_float32(stepped, mnist, space):
    from tfnas.training.precision import precision_policy

    float32 = stepped("single", space)  # its gradient at the initial weights, on the same training batch
    with precision_policy("mixed_bfloat16"):
        bf16 = _model("single", space)
    bf16.supernet.set_weights(float32.initial_weights)
    cells = [l for l in bf16.supernet._flatten_layers() if isinstance(l, MixedCell)]
    assert cells and all(c.compute_dtype == "bfloat16" for c in cells)  # the cells really run in bfloat16
    grads = {"float32": np.concatenate([g.ravel() for g in float32.a_grads]),
             "mixed_bfloat16": np.concatenate([g.numpy().ravel() for g in bf16._forward_backward(*_train_batch(mnist))[3]])}
    assert all(v.dtype == tf.float32 for v in bf16.supernet.arch_variables)
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
