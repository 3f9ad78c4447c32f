"""SPOS evolutionary search (Guo et al., Single Path One-Shot, 2020) as an ask/tell searcher.

Generation by generation, as in the SPOS reference search:
1. the first generation is ``population_size`` random feasible architectures (after the
   ``initial`` ones, known-feasible starting points such as the previous stage's best);
2. after a generation is evaluated, the ``num_parents`` best architectures seen so far are the
   parents; the next generation is ``num_mutations`` mutants (``space.resample``: every active
   choice re-drawn uniformly with probability ``mutation_prob``) and ``num_crossovers`` children
   (``space.crossover``: every choice taken from one of two random parents), topped up with random
   architectures (``space.draw``) to ``population_size``. The operators are the space's own, so
   conditional choices (a depth that removes layers) are handled by the space.

A candidate enters a generation only if it satisfies every constraint of the space (e.g. a hard
latency limit predicted from a device table) and has not been evaluated before, so an infeasible
architecture is never evaluated. The whole state (current generation queue, RNG, history) is
JSON, so ``run_search`` resumes a killed search exactly.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence


from tfnas.search.api import Architecture, CategoricalSpace, Searcher, SearchSpaceError


class SpaceExhausted(SearchSpaceError):
    """Every feasible architecture the searcher can still reach has been evaluated."""


class SPOSEvolution(Searcher):
    """SPOS evolution: population 50, top-10 parents, 25 mutations (p=0.1) + 25 crossovers per generation."""

    name = "spos_evolution"

    def __init__(self, space: CategoricalSpace, objective: str = "accuracy", seed: int = 0, mode: str = "max",
                 population_size: int = 50, num_parents: int = 10, num_mutations: int = 25,
                 num_crossovers: int = 25, mutation_prob: float = 0.1, max_tries_factor: int = 10,
                 initial: Sequence[Mapping[str, Any]] = ()):
        super().__init__(space, objective, seed, mode)
        if population_size < 1 or num_parents < 1:
            raise ValueError(f"population_size and num_parents must be >= 1, got {population_size}, {num_parents}")
        if not 0.0 <= mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob must be in [0, 1], got {mutation_prob}")
        self.population_size = population_size
        self.num_parents = num_parents
        self.num_mutations = num_mutations
        self.num_crossovers = num_crossovers
        self.mutation_prob = mutation_prob
        self.max_tries_factor = max_tries_factor
        self.initial = [dict(a) for a in initial]
        self.generation = 0
        self.queue: list[Architecture] = []
        self.generation_sizes: list[int] = []

    # --- proposing ------------------------------------------------------------------------------
    def _propose(self) -> Architecture:
        if not self.queue:
            self._next_generation()
        return self.queue.pop(0)

    def _seen(self) -> set[str]:
        return {self.space.key(h["arch"]) for h in self.history} | {self.space.key(a) for a in self.queue}

    def _legal(self, arch: Architecture, seen: set[str]) -> bool:
        key = self.space.key(arch)
        if key in seen or not self.space.feasible(arch):
            return False
        seen.add(key)
        return True

    def _next_generation(self) -> None:
        seen = self._seen()
        new: list[Architecture] = []
        parents = self.parents()
        if parents:
            new += self._mutations(parents, seen)
            new += self._crossovers(parents, seen)
        if self.generation == 0:
            new += [a for a in self.initial[: self.population_size] if self._legal(a, seen)]
        new += self._randoms(self.population_size - len(new), seen)
        if not new and not self.history:
            raise SearchSpaceError(
                f"no architecture satisfying {[c.name for c in self.space.constraints]} found in "
                f"{self.space.max_sampling_tries} random draws; the constraint is probably (nearly) infeasible: relax "
                "it (e.g. a higher latency limit)")
        if not new:
            raise SpaceExhausted(
                "SPOS evolution found no new feasible architecture to evaluate: the space is exhausted under its "
                f"constraints {[c.name for c in self.space.constraints]}; relax them or evaluate fewer candidates")
        self.queue = new
        self.generation_sizes.append(len(new))
        self.generation += 1

    def parents(self) -> list[Architecture]:
        """The ``num_parents`` best architectures evaluated so far (SPOS' top-k pool)."""
        ranked = sorted(self.history, key=lambda h: self.score(h["metrics"]), reverse=True)
        return [dict(h["arch"]) for h in ranked[: self.num_parents]]

    def _mutations(self, parents: list[Architecture], seen: set[str]) -> list[Architecture]:
        out: list[Architecture] = []
        for _ in range(self.num_mutations * self.max_tries_factor):
            if len(out) >= self.num_mutations:
                break
            child = self.space.resample(parents[int(self.rng.integers(len(parents)))], self.rng, self.mutation_prob)
            if self._legal(child, seen):
                out.append(child)
        return out

    def _crossovers(self, parents: list[Architecture], seen: set[str]) -> list[Architecture]:
        out: list[Architecture] = []
        for _ in range(self.num_crossovers * self.max_tries_factor):
            if len(out) >= self.num_crossovers:
                break
            a = parents[int(self.rng.integers(len(parents)))]
            b = parents[int(self.rng.integers(len(parents)))]
            child = self.space.crossover(a, b, self.rng)
            if self._legal(child, seen):
                out.append(child)
        return out

    def _randoms(self, count: int, seen: set[str]) -> list[Architecture]:
        """Up to ``count`` new feasible architectures by rejection sampling, within one draw budget.

        The budget (the space's ``max_sampling_tries``) is shared by the whole generation, so a tight
        constraint costs a bounded number of constraint checks instead of that many per architecture.
        """
        out: list[Architecture] = []
        for _ in range(self.space.max_sampling_tries):
            if len(out) >= count:
                break
            arch = self.space.draw(self.rng)
            if self._legal(arch, seen):
                out.append(arch)
        return out

    # --- state ------------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state.update({"generation": self.generation, "queue": [dict(a) for a in self.queue],
                      "generation_sizes": list(self.generation_sizes),
                      "config": {"population_size": self.population_size, "num_parents": self.num_parents,
                                 "num_mutations": self.num_mutations, "num_crossovers": self.num_crossovers,
                                 "mutation_prob": self.mutation_prob}})
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        self.generation = int(state["generation"])
        self.queue = [dict(a) for a in state["queue"]]
        self.generation_sizes = list(state.get("generation_sizes", []))
