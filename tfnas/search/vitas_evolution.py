"""ViTAS' evolutionary search as an ask/tell searcher: a (mu + lambda) genetic algorithm under a FLOPs window.

The reference (xiusu/ViTAS, core/sampler/evolution: NSGA-Net on pymoo with one objective) runs
``pop_size`` 50 for ``n_gens`` 40: the first generation is drawn with the tuned identity
probability inside the FLOPs window; every later one is ``pop_size`` offspring, each from two
parents picked by binary tournaments, crossed over and mutated, duplicates eliminated; the next
population is the best ``pop_size`` of parents and offspring. Here:

* initial draws, crossover and mutation are the space's operators (``operators.sample`` /
  ``crossover`` / ``mutate``; for the ViT space they never revive a block from an identity slot's
  placeholders), so conditional choices are the space's business;
* a candidate that fails the space's constraints (the FLOPs window when rejecting) or that was
  evaluated before is never proposed; with the soft penalty instead, the window is not a
  constraint and the evaluator scores out-of-window candidates without running them;
* the per-choice mutation probability defaults to 1 / (number of choices), pymoo's default.

All state (population, queue of the current generation, every generation's survivors, history,
RNG) is JSON, so ``run_search`` resumes a killed search exactly; ``finished`` turns true after the
last generation's survivors are chosen.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol

import numpy as np

from tfnas.search.api import Architecture, CategoricalSpace, Searcher, SearchSpaceError


class Operators(Protocol):
    """What the searcher asks of a space (``CategoricalSpaceOperators``, or ``ViTSpace.operators(p)``)."""

    def sample(self, rng: np.random.Generator) -> Architecture: ...

    def mutate(self, arch: Architecture, rng: np.random.Generator, prob: float) -> Architecture: ...

    def crossover(self, a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture: ...


class CategoricalSpaceOperators:
    """A categorical space's own operators: uniform draws, per-choice re-draws, uniform crossover."""

    def __init__(self, space: CategoricalSpace):
        self.space = space

    def sample(self, rng):
        return self.space.draw(rng)

    def mutate(self, arch, rng, prob):
        return self.space.resample(arch, rng, prob)

    def crossover(self, a, b, rng):
        return self.space.crossover(a, b, rng)


class ViTASEvolution(Searcher):
    """(mu + lambda) evolution: population 50, 40 generations (the first one random), tournaments of two."""

    name = "vitas_evolution"

    def __init__(self, space: CategoricalSpace, objective: str = "accuracy", seed: int = 0, mode: str = "max",
                 population_size: int = 50, generations: int = 40, crossover_prob: float = 0.9,
                 mutation_prob: float | None = None, operators: Operators | None = None,
                 max_tries_factor: int = 20):
        super().__init__(space, objective, seed, mode)
        if population_size < 2 or generations < 1:
            raise ValueError(f"need population_size >= 2 and generations >= 1, got {population_size}, {generations}")
        self.population_size, self.generations = int(population_size), int(generations)
        self.crossover_prob = float(crossover_prob)
        self.mutation_prob = float(mutation_prob if mutation_prob is not None else 1.0 / len(space.choices))
        self.operators = operators or CategoricalSpaceOperators(space)
        self.max_tries_factor = int(max_tries_factor)
        self.generation = 0  # generations started
        self.queue: list[Architecture] = []
        self.current: list[dict[str, Any]] = []  # the current generation's results so far
        self.population: list[dict[str, Any]] = []
        self.survivors: list[list[dict[str, Any]]] = []  # the population after each generation

    # --- proposing ------------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return len(self.survivors) >= self.generations and not self.queue

    def _propose(self) -> Architecture:
        if not self.queue:
            self._start_generation()
        return self.queue.pop(0)

    def _seen(self) -> set[str]:
        return ({self.space.key(h["arch"]) for h in self.history} | {self.space.key(a) for a in self.queue})

    def _new(self, arch: Architecture, seen: set[str]) -> bool:
        key = self.space.key(arch)
        if key in seen or not self.space.feasible(arch):
            return False
        seen.add(key)
        return True

    def _start_generation(self) -> None:
        seen = self._seen()
        count, tries = self.population_size, self.population_size * self.max_tries_factor
        new: list[Architecture] = []
        if self.population:
            for _ in range(tries):
                if len(new) >= count:
                    break
                a, b = self._tournament(), self._tournament()
                child = self.operators.crossover(a, b, self.rng) if self.rng.random() < self.crossover_prob else dict(a)
                child = self.operators.mutate(child, self.rng, self.mutation_prob)
                if self._new(child, seen):
                    new.append(child)
        for _ in range(self.space.max_sampling_tries):  # the first generation, or a top-up
            if len(new) >= count:
                break
            arch = self.operators.sample(self.rng)
            if self._new(arch, seen):
                new.append(arch)
        if not new:
            raise SearchSpaceError(
                f"ViTAS evolution found no new candidate satisfying {[c.name for c in self.space.constraints]} in "
                f"{self.space.max_sampling_tries} draws: the FLOPs window is (nearly) empty or exhausted; widen it")
        self.queue = new
        self.current = []
        self.generation += 1

    def _tournament(self) -> Architecture:
        i, j = self.rng.choice(len(self.population), size=2, replace=False)
        a, b = self.population[int(i)], self.population[int(j)]
        return dict((a if self.score(a["metrics"]) >= self.score(b["metrics"]) else b)["arch"])

    # --- results ------------------------------------------------------------------------------------------
    def tell(self, arch: Architecture, metrics: Mapping[str, float]) -> None:
        super().tell(arch, metrics)
        self.current.append(self.history[-1])
        if not self.queue:  # the generation is complete: survival of the fittest of parents and offspring
            pool = self.population + self.current
            ranked = sorted(range(len(pool)), key=lambda k: (-self.score(pool[k]["metrics"]), k))
            self.population = [pool[k] for k in ranked[: self.population_size]]
            self.survivors.append([dict(p) for p in self.population])
            self.current = []

    # --- state ----------------------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state.update({"generation": self.generation, "queue": [dict(a) for a in self.queue],
                      "current": list(self.current), "population": list(self.population),
                      "survivors": [list(s) for s in self.survivors],
                      "config": {"population_size": self.population_size, "generations": self.generations,
                                 "crossover_prob": self.crossover_prob, "mutation_prob": self.mutation_prob}})
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        saved = state["config"]
        for key in ("population_size", "crossover_prob", "mutation_prob"):
            if saved[key] != getattr(self, key):
                raise ValueError(f"the search state was saved with {key}={saved[key]}, this searcher has "
                                 f"{getattr(self, key)}; resume with the same setting")
        self.generation = int(state["generation"])
        self.queue = [dict(a) for a in state["queue"]]
        self.current = list(state["current"])
        self.population = list(state["population"])
        self.survivors = [list(s) for s in state["survivors"]]

