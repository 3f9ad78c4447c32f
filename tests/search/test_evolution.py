"""Regularized evolution: aging population, tournament parents, constraints, exact resume, quality."""
import numpy as np
import pytest

import tfnas  # noqa: F401
from tfnas.benchmarks import nasbench201 as nb
from tfnas.search.api import SearchSpaceError, run_search
from tfnas.search.evolution import RegularizedEvolution
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


def hamming(a, b):
    return sum(a[k] != b[k] for k in a)


def test_restored_state_gives_identical_proposals(evaluator):
    space = evaluator.space()
    make = lambda: RegularizedEvolution(space, evaluator.metric, seed=5, population_size=8, tournament_size=3)
    reference = proposals(make(), evaluator, 60)
    for cut in (5, 8, 31):  # inside the random phase, at its end, and mid-evolution
        first = make()
        head = proposals(first, evaluator, cut)
        resumed = make()
        resumed.set_state(first.get_state())
        assert head + proposals(resumed, evaluator, 60 - cut) == reference, cut


def test_children_mutate_the_tournament_winner_of_the_aging_population(evaluator):
    space = evaluator.space()
    searcher = RegularizedEvolution(space, evaluator.metric, seed=0, population_size=10, tournament_size=10)
    proposals(searcher, evaluator, 10)
    for _ in range(30):
        population = searcher.population()
        assert population == searcher.history[-10:]
        winner = max(population, key=lambda h: h["metrics"][evaluator.metric])["arch"]
        child = searcher.ask(1)[0]
        # tournament_size == population_size: the parent is the population's best, one edge changed
        assert hamming(child, winner) == 1
        searcher.tell(child, evaluator.evaluate(child))


def test_custom_mutation_sampler_and_constraint_are_used(evaluator):
    space = evaluator.space()
    calls = {"mutation": 0, "sampler": 0}

    def sampler(rng):
        calls["sampler"] += 1
        return space.sample(rng)

    def mutation(arch, rng):
        calls["mutation"] += 1
        return space.mutate(arch, rng, 2)

    no_pool = lambda arch: "avg_pool_3x3" not in arch.values()
    searcher = RegularizedEvolution(space, evaluator.metric, seed=2, population_size=6, tournament_size=2,
                                    mutation=mutation, sampler=sampler, constraint=no_pool)
    run_search(searcher, evaluator, 40)
    assert calls["sampler"] >= 6 and calls["mutation"] >= 34
    assert all(no_pool(h["arch"]) for h in searcher.history)


def test_impossible_constraint_fails_clearly(evaluator):
    searcher = RegularizedEvolution(evaluator.space(), evaluator.metric, constraint=lambda a: False, max_redraws=20)
    with pytest.raises(SearchSpaceError, match="infeasible"):
        searcher.ask(1)


def test_bad_sizes_are_refused(evaluator):
    with pytest.raises(ValueError, match="tournament_size"):
        RegularizedEvolution(evaluator.space(), evaluator.metric, population_size=4, tournament_size=5)
    searcher = RegularizedEvolution(evaluator.space(), evaluator.metric, population_size=4, tournament_size=2)
    other = RegularizedEvolution(evaluator.space(), evaluator.metric, population_size=5, tournament_size=2)
    with pytest.raises(ValueError, match="population_size"):
        other.set_state(searcher.get_state())


def test_deduplicate_never_reevaluates(evaluator):
    searcher = run_search(RegularizedEvolution(evaluator.space(), evaluator.metric, seed=0, deduplicate=True),
                          evaluator, 150)
    keys = [evaluator.space().key(h["arch"]) for h in searcher.history]
    assert len(set(keys)) == len(keys)


def test_beats_random_search_on_nasbench201(evaluator):
    """The point of evolution: with the same budget it finds better cells than random sampling."""
    space = evaluator.space()
    evo = [run_search(RegularizedEvolution(space, evaluator.metric, seed=s), evaluator, 100).best_so_far()[-1]
           for s in range(10)]
    rnd = [run_search(RandomSearch(space, evaluator.metric, seed=s), evaluator, 100).best_so_far()[-1]
           for s in range(10)]
    assert np.mean(evo) > np.mean(rnd) + 0.2
