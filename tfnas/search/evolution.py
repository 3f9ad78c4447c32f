"""Regularized (aging) evolution, Real et al. 2019 ("Regularized Evolution for Image Classifier
Architecture Search"), as an ask/tell searcher over any categorical space.

The population is the ``population_size`` most recently evaluated architectures (aging: every
new child pushes out the oldest member, not the worst, which keeps the search from resting on
one lucky evaluation). The first ``population_size`` proposals are random; after that each
proposal is a mutation of the best of ``tournament_size`` members drawn at random (without
replacement) from the population. Because the population is exactly the tail of the evaluation
history, the searcher's state is just its history and RNG, and a restored search continues
with identical proposals.

Run on several workers, a proposal waits for the results it depends on (``ready``): the
``population_size`` random architectures are evaluated in parallel, each later child needs the
previous child's result, exactly as in the sequential algorithm. With ``asynchronous`` (the
paper's own distributed setup: a free worker takes a tournament over the results so far) every
free worker gets a child at once; the history then depends on which evaluations finish first, so
two runs with the same seed may differ.

Reused by hardware-aware (HURRICANE) and transformer (ViTAS) search: the mutation, the random
initial sampler and a feasibility constraint (e.g. a latency or FLOPs budget) are parameters.

Defaults P = 10, S = 5 are the setting NAS-Bench-201's authors ran on their table, not the
paper's: Real et al. ran P = 100, S = 25 on their large CIFAR-10 runs (docs/METHODS.md).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from tfnas.search.api import UNBOUNDED, Architecture, CategoricalSpace, Searcher, SearchSpaceError

Mutation = Callable[[Architecture, np.random.Generator], Architecture]
Sampler = Callable[[np.random.Generator], Architecture]
Feasibility = Callable[[Architecture], bool]


class RegularizedEvolution(Searcher):
    """Aging evolution with tournament selection.

    Args:
      space: the categorical space (its own constraints always apply).
      objective: metric name to optimise; ``mode`` says whether larger ("max") or smaller is better.
      population_size: P, the number of most recent evaluations that form the population
        (default 10, NAS-Bench-201's choice; the paper's large runs: 100).
      tournament_size: S, members sampled per tournament (the best becomes the parent; default 5,
        NAS-Bench-201's; the paper's large runs: 25).
      mutation: ``(parent, rng) -> child``; default: change one random choice to another option
        (the paper's op/hidden-state mutations are single-choice changes too).
      sampler: ``rng -> arch`` for the random initial population; default ``space.sample``.
      constraint: extra feasibility test for every proposal (e.g. a latency budget); infeasible
        samples and children are redrawn, up to ``max_redraws`` times, then a clear error is raised.
      deduplicate: redraw children already evaluated (off in the paper; useful when an evaluation
        is expensive and deterministic, as in a table).
    """

    name = "regularized_evolution"

    def __init__(self, space: CategoricalSpace, objective: str, seed: int = 0, mode: str = "max",
                 population_size: int = 10, tournament_size: int = 5, mutation: Mutation | None = None,
                 sampler: Sampler | None = None, constraint: Feasibility | None = None,
                 deduplicate: bool = False, max_redraws: int = 1000):
        super().__init__(space, objective, seed, mode)
        if population_size < 1:
            raise ValueError(f"population_size must be >= 1, got {population_size}")
        if not 1 <= tournament_size <= population_size:
            raise ValueError(f"tournament_size must be in [1, population_size={population_size}], got {tournament_size}")
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.mutation = mutation or (lambda arch, rng: space.mutate(arch, rng, 1))
        self.sampler = sampler or space.sample
        self.constraint = constraint
        self.deduplicate = deduplicate
        self.max_redraws = max_redraws
        self._seen: set[str] = set()

    # --- proposals ----------------------------------------------------------------------------
    def population(self) -> list[dict[str, Any]]:
        """The current population: the last ``population_size`` evaluated {arch, metrics}."""
        return self.history[-self.population_size:]

    def ready(self, asynchronous: bool = False) -> int:
        initial_left = self.population_size - len(self.history) - len(self.outstanding)
        if initial_left > 0:  # random initial architectures depend on no result
            return UNBOUNDED if asynchronous else initial_left
        if asynchronous:  # a tournament over the results so far, once there are enough for one
            return UNBOUNDED if len(self.history) >= self.tournament_size else 0
        return 0 if self.outstanding else 1

    def _propose(self) -> Architecture:
        # Proposals so far (told or outstanding) decide, so a batch of initial draws is what the
        # sequential search would draw.
        if len(self.history) + len(self.outstanding) < self.population_size:
            arch = self._draw(lambda: self.sampler(self.rng), "random initial architecture")
        else:
            parent = self._tournament()
            arch = self._draw(lambda: self.mutation(parent, self.rng), f"mutation of {parent}")
        self._seen.add(self.space.key(arch))  # an outstanding child counts as seen, as once it is told
        return arch

    def _tournament(self) -> Architecture:
        population = self.population()
        picks = self.rng.choice(len(population), size=self.tournament_size, replace=False)
        best = max(picks, key=lambda i: (self.score(population[i]["metrics"]), -int(i)))
        return dict(population[int(best)]["arch"])

    def _draw(self, make: Callable[[], Architecture], what: str) -> Architecture:
        fallback = None
        for _ in range(self.max_redraws):
            arch = make()
            if self.constraint is not None and not self.constraint(arch):
                continue
            if self.deduplicate and self.space.key(arch) in self._seen:
                fallback = fallback or arch
                continue
            return arch
        if fallback is not None:  # every feasible child was seen before: repeating is the only option
            return fallback
        raise SearchSpaceError(f"no feasible {what} in {self.max_redraws} draws: the constraint is probably "
                               "infeasible; relax it (e.g. a higher latency limit)")

    # --- results / state ---------------------------------------------------------------------------
    def tell(self, arch: Architecture, metrics: Mapping[str, float]) -> None:
        super().tell(arch, metrics)
        self._seen.add(self.space.key(arch))

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "population_size": self.population_size,
                "tournament_size": self.tournament_size}

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        for key in ("population_size", "tournament_size"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(f"state was saved with {key}={state[key]}, this searcher has {getattr(self, key)}; "
                                 f"resume with the same --{key}")
        self._seen = {self.space.key(a) for a in [*(h["arch"] for h in self.history), *self.outstanding]}
