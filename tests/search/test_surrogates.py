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


class _Steps(list):
    """The minibatch steps per call of the ensemble's network (a spy on StackedPredictors.train);
    ``batches`` keeps each call's [steps, batch] indices."""

    def __init__(self, ensemble):
        super().__init__()
        self.batches = []
        train = ensemble.network.train

        def spy(tokens, labels, batches):
            self.append(len(batches))
            self.batches.append(np.array(batches))
            return train(tokens, labels, batches)

        ensemble.network.train = spy


def _train_steps(ensemble):
    return _Steps(ensemble)


def test_warm_refits_continue_and_a_fresh_predictor_replays_them_exactly(data):
    archs, y, train, test = data
    encoder = sg.CategoricalTokens(nb.nasbench201_space())
    config = sg.SurrogateConfig(kind="mlp", **dict(FAST, num_members=2, units=8, embed_dim=8, epochs=20,
                                                   refit_epochs=20, restart_growth=None))
    x, t, x_test = [archs[i] for i in train], y[train], [archs[i] for i in test[:200]]
    search = sg.SurrogateEnsemble(encoder, config)
    steps = _train_steps(search)
    for k in (1, 2, 3):  # a search refits at 40, then 50, then 60 results
        search.refit(x, t, [40, 50, 60][:k], seed=5)
    # the first fit: 20 passes over 40 results; each warm refit: 20 passes' worth over the 10 new ones
    assert steps == [20, 4, 4]
    # a warm refit draws half of every batch from the new results, the rest from all of them
    new_rows = steps.batches[1] >= 40
    assert (new_rows.sum(axis=1) >= new_rows.shape[1] // 2).all() and (steps.batches[1] < 40).any()
    resumed = sg.SurrogateEnsemble(encoder, config)
    resumed.fit(x[:30], t[:30], seed=9)  # whatever these weights went through before must not matter
    replay = _train_steps(resumed)
    resumed.refit(x, t, [40, 50, 60], seed=5)
    assert replay == [20, 4, 4]
    np.testing.assert_array_equal(search.predict_members(x_test), resumed.predict_members(x_test))
    # warm-started is not the same as one fit from scratch on the 60 results
    cold = sg.SurrogateEnsemble(encoder, dataclasses_replace(config, refit="cold"))
    cold.refit(x, t, [40, 50, 60], seed=5)
    assert not np.array_equal(search.predict_members(x_test), cold.predict_members(x_test))


def test_refits_restart_from_scratch_once_the_data_has_grown_enough(data):
    archs, y, train, test = data
    encoder = sg.CategoricalTokens(nb.nasbench201_space())
    config = sg.SurrogateConfig(kind="mlp", **dict(FAST, num_members=2, units=8, embed_dim=8, epochs=10,
                                                   refit_epochs=10, restart_growth=1.5))
    x, t, x_test = [archs[i] for i in train], y[train], [archs[i] for i in test[:200]]
    chain = sg.SurrogateEnsemble(encoder, config)
    assert chain._fresh_starts([20, 25, 30, 40, 50, 60]) == {0, 2, 4}  # 30 >= 1.5 x 20, 50 >= 1.5 x 30
    steps = _train_steps(chain)
    chain.refit(x, t, [20, 25, 30, 40], seed=2)
    assert steps == [10, 3]  # only the last fresh start (at 30) and the warm refit after it (at 40) run
    single = sg.SurrogateEnsemble(encoder, config)
    single.refit(x, t, [30, 40], seed=2)  # refits before a fresh start leave no trace
    np.testing.assert_array_equal(chain.predict_members(x_test), single.predict_members(x_test))
    with pytest.raises(ValueError, match="restart_growth"):
        sg.SurrogateConfig(restart_growth=1.0)
    with pytest.raises(ValueError, match="fit_sizes must increase"):
        chain.refit(x, t, [40, 30], seed=2)


def dataclasses_replace(config, **changes):
    import dataclasses
    return dataclasses.replace(config, **changes)


def test_spearman_matches_scipy_with_ties():
    from scipy import stats
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.integers(0, 6, 40).astype(float), rng.normal(size=40).round(1)
        assert sg.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).correlation, abs=1e-12)
