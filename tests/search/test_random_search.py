"""Random search: uniform, never repeats, honours constraints, resumes to identical proposals."""
import numpy as np
import pytest

import tfnas  # noqa: F401
from tfnas.benchmarks import nasbench201 as nb
from tfnas.search.api import CategoricalSpace, Choice, Constraint, run_search
from tfnas.search.random import RandomSearch


@pytest.fixture(scope="module")
def evaluator():
    return nb.load_evaluator(None, "cifar10")


def proposals(searcher, evaluator, n):
    out = []
    for _ in range(n):
        arch = searcher.ask(1)[0]
        out.append(arch)
        searcher.tell(arch, evaluator.evaluate(arch))
    return out


def test_restored_state_gives_identical_proposals(evaluator):
    space = evaluator.space()
    reference = proposals(RandomSearch(space, evaluator.metric, seed=3), evaluator, 40)
    first = RandomSearch(space, evaluator.metric, seed=3)
    head = proposals(first, evaluator, 17)
    resumed = RandomSearch(space, evaluator.metric, seed=999)  # the state, not the constructor, decides
    resumed.set_state(first.get_state())
    assert head + proposals(resumed, evaluator, 23) == reference


def test_never_repeats_and_exhausts_a_small_space():
    space = CategoricalSpace([Choice("a", (0, 1, 2)), Choice("b", ("x", "y"))])
    searcher = RandomSearch(space, "v", seed=0)
    seen = proposals(searcher, type("E", (), {"evaluate": lambda self, a: {"v": 1.0}})(), 6)
    assert len({space.key(a) for a in seen}) == 6


def test_marginals_are_uniform(evaluator):
    searcher = run_search(RandomSearch(evaluator.space(), evaluator.metric, seed=0), evaluator, 1000)
    counts = np.zeros((6, 5))
    for h in searcher.history:
        for e, op in enumerate(nb.arch_to_genotype(h["arch"]).to_indices()):
            counts[e, op] += 1
    # 200 expected per cell; a 5-sigma band (sd ~ 12.6) catches a biased sampler, not chance
    assert np.abs(counts - 200).max() < 65


def test_constraint_is_always_met(evaluator):
    table = evaluator.table
    limit = float(np.quantile(table.values("latency_ms_pixel3"), 0.1))
    limited = nb.NasBench201Evaluator(table, "cifar10", "pixel3", limit)
    searcher = run_search(RandomSearch(limited.space(), limited.metric, seed=1), limited, 100)
    assert all(h["metrics"]["latency_ms_pixel3"] <= limit for h in searcher.history)


def test_infeasible_constraint_fails_clearly():
    space = CategoricalSpace([Choice("a", (0, 1))], [Constraint("never", lambda a: False)], max_sampling_tries=50)
    with pytest.raises(ValueError, match="infeasible"):
        RandomSearch(space, "v").ask(1)
