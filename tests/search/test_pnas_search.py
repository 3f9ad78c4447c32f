"""PNAS searchers: the tabular SMBO core and the progressive search, incl. exact resume."""
import json

import numpy as np
import pytest

import tfnas  # noqa: F401
from tfnas.benchmarks import nasbench201 as nb
from tfnas.search.api import SearchSpaceError, run_search
from tfnas.search.pnas import ProgressiveSearcher, SMBOSearcher
from tfnas.search.surrogates import Surrogate
from tfnas.spaces import pnas

FAST = dict(num_members=3, embed_dim=16, units=16, epochs=40)


def fast_surrogate(kinds=("mlp",), shared=None, **config):
    """A small predictor factory; with ``shared`` (a dict) all searchers of a test reuse one built
    predictor (a predictor replays a searcher's refits unless its weights came from exactly
    those refits; test_surrogates checks that two separately built predictors refit identically)."""
    settings = {k: dict(FAST, **config) for k in kinds}

    def factory(encoder):
        if shared is None:
            return Surrogate(encoder, kinds, **settings)
        if "surrogate" not in shared:
            shared["surrogate"] = Surrogate(encoder, kinds, **settings)
        return shared["surrogate"]
    return factory


@pytest.fixture(scope="module")
def evaluator():
    return nb.load_evaluator(None, "cifar10")


def proposals(searcher, evaluator, n, key=lambda a: a):
    out = []
    for _ in range(n):
        arch = searcher.ask(1)[0]
        out.append(key(arch))
        searcher.tell(arch, evaluator.evaluate(arch))
    return out


class CellScore:
    """A stand-in for training in the PNAS space: a deterministic score of the cell's ops."""

    metric = "val_accuracy"
    weights = dict(zip(pnas.OPS, (0.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.2, 0.1)))

    def evaluate(self, arch):
        cell = pnas.to_genotype(arch)
        ops = [w for b in cell.blocks for w in (self.weights[b[1]], self.weights[b[3]])]
        reads_prev = sum(b[0] == 1 or b[2] == 1 for b in cell.blocks)
        return {"val_accuracy": 50.0 + np.mean(ops) * 10 + reads_prev + len(cell.blocks)}


# --- tabular SMBO core ------------------------------------------------------------------------------------

def test_smbo_restored_state_gives_identical_proposals(evaluator):
    space, shared = evaluator.space(), {}
    make = lambda: SMBOSearcher(space, evaluator.metric, seed=4, batch_size=5, initial_size=10,
                                surrogate_factory=fast_surrogate(shared=shared))
    reference = proposals(make(), evaluator, 27)
    for cut in (12, 20):  # mid-batch (pending queue in the state) and at a batch boundary (refit next)
        first = make()
        head = proposals(first, evaluator, cut)
        resumed = make()
        resumed.set_state(first.get_state())
        assert resumed.queue == first.queue
        assert head + proposals(resumed, evaluator, 27 - cut) == reference, cut


@pytest.mark.parametrize("restart_growth", [None, 1.5])  # warm refits only, and with fresh restarts
def test_smbo_stopped_and_resumed_with_a_new_predictor_gives_the_uninterrupted_history(evaluator, restart_growth):
    space = evaluator.space()
    make = lambda: SMBOSearcher(space, evaluator.metric, seed=2, batch_size=5, initial_size=10,
                                surrogate_factory=fast_surrogate(restart_growth=restart_growth))
    uninterrupted = make()
    run_search(uninterrupted, evaluator, 32)
    assert uninterrupted.fit_sizes == [10, 15, 20, 25, 30]
    for cut in (17, 25):  # inside a predicted batch, and at a refit
        first = make()
        run_search(first, evaluator, cut)
        state = json.loads(json.dumps(first.get_state()))  # what searcher_state.json holds
        resumed = make()  # a new process: a predictor that has seen nothing replays the refits
        resumed.set_state(state)
        run_search(resumed, evaluator, 32)
        assert resumed.history == uninterrupted.history, cut
        assert resumed.spearman_log == uninterrupted.spearman_log


def test_smbo_batches_are_the_predicted_best_unseen_feasible_cells(evaluator):
    table = evaluator.table
    limit = float(np.quantile(table.values("latency_ms_raspi4"), 0.3))
    limited = nb.NasBench201Evaluator(table, "cifar10", "raspi4", limit)
    searcher = SMBOSearcher(limited.space(), limited.metric, seed=0, batch_size=10, initial_size=10,
                            surrogate_factory=fast_surrogate())
    run_search(searcher, limited, 40)
    keys = [limited.space().key(h["arch"]) for h in searcher.history]
    assert len(set(keys)) == 40
    assert all(h["metrics"]["latency_ms_raspi4"] <= limit for h in searcher.history)
    assert len(searcher.candidate_pool()) == int(limited.feasible_mask().sum())
    # three predicted batches, each with its Spearman logged after its last result
    assert [e["evaluated"] for e in searcher.spearman_log] == [20, 30, 40]
    assert all(-1 <= e["mlp"] <= 1 for e in searcher.spearman_log)
    # the predicted batches are far better than the random first batch
    first, later = searcher.history[:10], searcher.history[10:]
    assert np.mean([h["metrics"][limited.metric] for h in later]) > np.mean([h["metrics"][limited.metric] for h in first])


def test_smbo_exhausts_a_tiny_space_with_a_clear_error():
    from tfnas.search.api import CategoricalSpace, Choice
    space = CategoricalSpace([Choice("a", (0, 1, 2)), Choice("b", (0, 1))])
    searcher = SMBOSearcher(space, "v", batch_size=2, initial_size=3, surrogate_factory=fast_surrogate())
    score = type("E", (), {"evaluate": lambda self, arch: {"v": float(arch["a"] + 2 * arch["b"])}})()
    run_search(searcher, score, 6)
    assert searcher.best()["metrics"]["v"] == 4.0
    with pytest.raises(SearchSpaceError, match="exhausted"):
        searcher.ask(1)


# --- progressive PNAS ------------------------------------------------------------------------------------------

def test_progressive_levels_beam_and_finish():
    evaluator = CellScore()
    searcher = ProgressiveSearcher(evaluator.metric, seed=0, max_blocks=3, beam_size=4,
                                   surrogate_factory=fast_surrogate())
    run_search(searcher, evaluator, 10 ** 6)
    sizes = [len(h["arch"]["blocks"]) for h in searcher.history]
    assert sizes == [1] * 136 + [2] * 4 + [3] * 4  # all 136 one-block cells, then K per level
    assert searcher.finished and searcher.level == 3
    # every level-b cell extends one of the K best measured level-(b-1) cells
    for b in (2, 3):
        level_prev = sorted((h for h in searcher.history if len(h["arch"]["blocks"]) == b - 1),
                            key=lambda h: -h["metrics"]["val_accuracy"])[:4]
        parents = {pnas.PnasGenotype.from_arch(h["arch"]).key() for h in level_prev}
        for h in searcher.history:
            if len(h["arch"]["blocks"]) == b:
                assert pnas.PnasGenotype(tuple(map(tuple, h["arch"]["blocks"][:-1]))).key() in parents
    assert len(searcher.spearman_log) == 2


@pytest.mark.parametrize("share", [True, False])  # one predictor for all, or a new one per searcher (replay)
def test_progressive_restored_state_gives_identical_proposals(share):
    evaluator, shared = CellScore(), ({} if share else None)
    make = lambda: ProgressiveSearcher(evaluator.metric, seed=1, max_blocks=3, beam_size=3, initial_cells=8,
                                       surrogate_factory=fast_surrogate(shared=shared))
    key = lambda a: pnas.to_genotype(a).key()
    reference = proposals(make(), evaluator, 14, key)
    for cut in (8, 9):  # at the end of level 1 (expansion + refit next) and inside level 2's queue
        first = make()
        head = proposals(first, evaluator, cut, key)
        resumed = make()
        resumed.set_state(first.get_state())
        assert head + proposals(resumed, evaluator, 14 - cut, key) == reference, cut


def test_progressive_settings_must_match_on_resume():
    a = ProgressiveSearcher("v", max_blocks=3, beam_size=4)
    with pytest.raises(ValueError, match="beam_size"):
        ProgressiveSearcher("v", max_blocks=3, beam_size=5).set_state(a.get_state())
