"""Random search: uniform proposals over the (constrained) space, never repeating an evaluated one.

The baseline every NAS method must beat (Li & Talwalkar, 2019). Sampling is uniform over the
feasible set by rejection (``CategoricalSpace.sample``); with ``deduplicate`` (the default) an
architecture already evaluated is redrawn, because evaluating it again costs a whole evaluation
and teaches nothing in a deterministic benchmark.

No proposal depends on a result, so any number can be evaluated at once (``ready``): the
architectures drawn are the same for any number of workers.
"""
from __future__ import annotations

from typing import Any, Mapping

from tfnas.search.api import UNBOUNDED, Architecture, CategoricalSpace, Searcher


class RandomSearch(Searcher):
    """Uniformly random architectures; the whole state is the RNG and the history."""

    name = "random"

    def __init__(self, space: CategoricalSpace, objective: str, seed: int = 0, mode: str = "max",
                 deduplicate: bool = True, max_redraws: int = 1000):
        super().__init__(space, objective, seed, mode)
        self.deduplicate = deduplicate
        self.max_redraws = max_redraws
        self._seen: set[str] = set()

    def _propose(self) -> Architecture:
        arch = self.space.sample(self.rng)
        for _ in range(self.max_redraws):
            if not self.deduplicate or self.space.key(arch) not in self._seen:
                break
            arch = self.space.sample(self.rng)
        # After max_redraws duplicates the space is (nearly) exhausted: a repeat is the only answer.
        self._seen.add(self.space.key(arch))
        return arch

    def ready(self, asynchronous: bool = False) -> int:
        return UNBOUNDED

    def tell(self, arch: Architecture, metrics: Mapping[str, float]) -> None:
        super().tell(arch, metrics)
        self._seen.add(self.space.key(arch))

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        self._seen = {self.space.key(a) for a in [*(h["arch"] for h in self.history), *self.outstanding]}
