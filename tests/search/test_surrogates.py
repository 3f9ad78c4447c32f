"""PNAS' predictors: they rank NAS-Bench-201 cells, refit deterministically, hold folds out, and
handle cells of different sizes."""
import numpy as np
import pytest

import tfnas  # noqa: F401
from tfnas.benchmarks import nasbench201 as nb
from tfnas.search import surrogates as sg
from tfnas.spaces import pnas

FAST = dict(num_members=3, embed_dim=16, units=16, epochs=60)


@pytest.fixture(scope="module")
def data():
    table = nb.NasBench201Table.load()
    archs = table.all_archs()
    y = table.values("cifar10_test_acc")
    perm = np.random.default_rng(0).permutation(len(archs))
    return archs, y, perm[:100], perm[100:1100]


@pytest.mark.parametrize("kind", ["mlp", "lstm"])
def test_ensemble_ranks_held_out_cells(data, kind):
    archs, y, train, test = data
    encoder = sg.CategoricalTokens(nb.nasbench201_space())
    ensemble = sg.SurrogateEnsemble(encoder, sg.SurrogateConfig(kind=kind, **FAST))
    ensemble.fit([archs[i] for i in train], y[train], seed=0)
    members = ensemble.predict_members([archs[i] for i in test])
    assert members.shape == (1000, 3)
    # 100 training cells are enough to rank 1,000 unseen ones well (the benchmark's bar is 0.6)
    assert sg.spearman(members.mean(axis=1), y[test]) > 0.6


def test_refit_is_deterministic_and_independent_of_history(data):
    archs, y, train, test = data
    encoder = sg.CategoricalTokens(nb.nasbench201_space())
    config = sg.SurrogateConfig(kind="lstm", **dict(FAST, num_members=2, units=8, embed_dim=8, epochs=15))
    a = sg.SurrogateEnsemble(encoder, config)
    b = sg.SurrogateEnsemble(encoder, config)
    x_train, x_test = [archs[i] for i in train], [archs[i] for i in test[:200]]
    a.fit(x_train[:50], y[train[:50]], seed=1)  # an earlier, different fit must leave no trace
    a.fit(x_train, y[train], seed=7)
    b.fit(x_train, y[train], seed=7)
    np.testing.assert_array_equal(a.predict_members(x_test), b.predict_members(x_test))
    b.fit(x_train, y[train], seed=8)
    assert not np.array_equal(a.predict_members(x_test), b.predict_members(x_test))


def test_members_hold_out_different_folds():
    ensemble = sg.SurrogateEnsemble(sg.CategoricalTokens(nb.nasbench201_space()), sg.SurrogateConfig(kind="mlp", **FAST))
    mask = ensemble._member_masks(30, np.random.default_rng(0))
    assert mask.shape == (30, 3)
    assert (mask.sum(axis=1) == 2).all()  # every example is held out by exactly one member
    assert set(mask.sum(axis=0)) == {20.0}  # each member trains on 2/3 (with 3 members)
    np.testing.assert_array_equal(ensemble._member_masks(4, np.random.default_rng(0)), np.ones((4, 3)))


def test_rank_targets_keep_order_beyond_the_training_range():
    ensemble = sg.SurrogateEnsemble(sg.CategoricalTokens(nb.nasbench201_space()),
                                    sg.SurrogateConfig(kind="mlp", target_transform="rank", **FAST))
    ensemble._fit_scale(np.array([10.0, 80.0, 90.0, 90.0, 94.0]))
    units = ensemble._to_unit(np.array([10.0, 80.0, 90.0, 94.0]))
    np.testing.assert_allclose(units, [0.1, 0.3, 0.6, 0.9])
    back = ensemble._from_unit(np.array([0.05, 0.1, 0.6, 0.9, 0.95]))
    assert np.all(np.diff(back) > 0) and back[1] == 10.0 and back[3] == 94.0


def test_pnas_tokens_and_variable_length_cells():
    encoder = pnas.PnasTokens(max_blocks=3)
    one = pnas.PnasGenotype(((0, "sep_conv_3x3", 1, "identity"),))
    two = pnas.PnasGenotype(one.blocks + ((2, "max_pool_3x3", 0, "conv_1x7_7x1"),))
    tokens = encoder.encode([one.to_arch(), two])
    assert tokens.shape == (2, 12)
    assert (tokens[0, 4:] == 0).all() and (tokens[1, 8:] == 0).all() and (tokens[1, :8] > 0).all()
    assert tokens.max() < encoder.vocab_size
    # inputs and ops never share a token id (the paper's two embeddings)
    assert set(tokens[1, [0, 2, 4, 6]]).isdisjoint(tokens[1, [1, 3, 5, 7]])
    small = dict(FAST, num_members=2, units=8, embed_dim=8, epochs=5)
    surrogate = sg.Surrogate(encoder, ("lstm", "mlp"), lstm=small, mlp=small)
    surrogate.fit([one.to_arch(), two.to_arch()], [50.0, 60.0], seed=0)
    predicted = surrogate.predict_by_kind([one.to_arch(), two.to_arch()])
    assert set(predicted) == {"lstm", "mlp", "ensemble"}
    assert np.isfinite(predicted["ensemble"]).all()
    np.testing.assert_allclose(predicted["ensemble"], (predicted["lstm"] + predicted["mlp"]) / 2)


def test_mlp_block_average_ignores_padding():
    encoder = pnas.PnasTokens(max_blocks=4)
    ensemble = sg.SurrogateEnsemble(encoder, sg.SurrogateConfig(kind="mlp", **FAST))
    cell = pnas.PnasGenotype(((0, "sep_conv_3x3", 1, "identity"), (0, "sep_conv_3x3", 1, "identity")))
    single = pnas.PnasGenotype(cell.blocks[:1])
    ensemble.fit([cell.to_arch(), single.to_arch()], [70.0, 60.0], seed=0)
    # a cell repeating one block averages to that block's embedding: same prediction as the block alone
    np.testing.assert_allclose(ensemble.predict([cell.to_arch()]), ensemble.predict([single.to_arch()]), rtol=1e-5)


def test_spearman_and_bad_config():
    assert sg.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert np.isnan(sg.spearman([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="kind"):
        sg.SurrogateConfig(kind="gru")
    with pytest.raises(ValueError, match="kinds"):
        sg.Surrogate(sg.CategoricalTokens(nb.nasbench201_space()), ("gp",))
