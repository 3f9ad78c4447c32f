"""run_search with several evaluations in flight (no Ray): same history, and exact resume after a kill."""
import pytest

import tfnas  # noqa: F401
from tfnas.benchmarks import nasbench201 as nb
from tfnas.files import read_json
from tfnas.search.api import Executor, run_search
from tfnas.search.evolution import RegularizedEvolution
from tfnas.search.pnas import SMBOSearcher
from tfnas.search.random import RandomSearch
from tfnas.search.surrogates import Surrogate


class Killed(Exception):
    """Stands for the driver dying: run_search stops where it is, only the state file survives."""


class ReversedExecutor(Executor):
    """Runs ``capacity`` evaluations at once and finishes them last-submitted first (the worst order
    for a search told in the order asked); counts every evaluation; can die after ``die_after`` waits."""

    def __init__(self, evaluator, capacity=4, die_after=None):
        self.evaluator, self.capacity, self.die_after = evaluator, capacity, die_after
        self.pending, self.evaluated, self.waits, self._next = [], [], 0, 0
        self.in_flight = []  # how many were running at each wait

    def submit(self, arch):
        self._next += 1
        self.pending.append((self._next, arch))
        return self._next

    def wait(self):
        self.waits += 1
        if self.die_after is not None and self.waits > self.die_after:
            raise Killed()
        self.in_flight.append(len(self.pending))
        ticket, arch = self.pending.pop()  # the newest first
        self.evaluated.append(nb.arch_to_string(arch))
        return [(ticket, self.evaluator.evaluate(arch))]

    def discard(self, tickets):
        self.pending = [(t, a) for t, a in self.pending if t not in set(tickets)]


@pytest.fixture(scope="module")
def table():
    return nb.load_evaluator(None, "cifar10")


SEARCHERS = {
    "random": lambda space, metric: RandomSearch(space, metric, seed=4),
    "evolution": lambda space, metric: RegularizedEvolution(space, metric, seed=4, population_size=6,
                                                            tournament_size=3),
    "pnas_smbo": lambda space, metric: SMBOSearcher(
        space, metric, seed=4, batch_size=4, initial_size=6,
        surrogate_factory=lambda enc: Surrogate(enc, ("mlp",), mlp=dict(num_members=1, units=8, epochs=5))),
}


@pytest.mark.parametrize("kind", sorted(SEARCHERS))
def test_out_of_order_results_leave_the_sequential_history(table, kind):
    make = SEARCHERS[kind]
    sequential = run_search(make(table.space(), table.metric), table, 14)
    parallel = run_search(make(table.space(), table.metric), None, 14, executor=ReversedExecutor(table))
    assert parallel.history == sequential.history
    assert not parallel.outstanding and not parallel.arrived


def test_a_killed_driver_resumes_without_losing_or_repeating_a_received_result(table, tmp_path):
    state = str(tmp_path / "state.json")
    sequential = run_search(SEARCHERS["random"](table.space(), table.metric), table, 20)
    first = ReversedExecutor(table, die_after=6)
    with pytest.raises(Killed):
        run_search(SEARCHERS["random"](table.space(), table.metric), None, 20, state_path=state, executor=first)
    at_kill = read_json(state)
    told = [nb.arch_to_string(h["arch"]) for h in at_kill["history"]]
    arrived = [nb.arch_to_string(e["arch"]) for e in at_kill["arrived"]]
    assert arrived, "results that came back before an earlier-asked one are kept in the state"
    assert sorted(told + arrived) == sorted(first.evaluated)  # everything received was written down
    second = ReversedExecutor(table)
    resumed = run_search(SEARCHERS["random"](table.space(), table.metric), None, 20, state_path=state,
                         executor=second)
    assert resumed.history == sequential.history
    assert not set(second.evaluated) & set(first.evaluated)  # nothing received before the kill is evaluated again
    assert len(first.evaluated) + len(second.evaluated) == 20


@pytest.mark.parametrize("asynchronous", [False, True])
def test_asynchronous_evolution_keeps_every_worker_busy(table, asynchronous):
    executor = ReversedExecutor(table, capacity=3)
    searcher = RegularizedEvolution(table.space(), table.metric, seed=0, population_size=4, tournament_size=2)
    run_search(searcher, None, 16, executor=executor, asynchronous=asynchronous)
    assert len(searcher.history) == 16 and not searcher.outstanding
    children = executor.in_flight[6:-3]  # after the initial population, before the budget runs out
    # Batch-synchronous: each child waits for the previous one; asynchronous: every free worker gets one.
    assert set(children) == ({3} if asynchronous else {1})
