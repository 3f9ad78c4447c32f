"""The three small APIs of discrete search: a space, an evaluator, a searcher (ask/tell).

In the spirit of KerasTuner's oracle and Archai's searcher: the searcher only proposes
architectures and is told their metrics; how an architecture is evaluated (a table look-up, a
few epochs of training, a supernet forward pass, a latency measurement) is the evaluator's
business. Every searcher keeps all of its state (history, RNG, population, surrogate data) in
``get_state()`` as plain JSON, so ``run_search`` can checkpoint after every evaluation and a
killed search resumes to exactly the result of an uninterrupted one.

An architecture is a plain dict {choice name: option}; spaces are declared in
``tfnas.spaces.choices`` (re-exported here). Users plug in their own space (a list of ``Choice``)
and evaluator (any object with ``evaluate(arch) -> dict``) without touching tfnas.
"""
from __future__ import annotations

import abc
import math
from typing import Any, Callable, Mapping, Protocol

import numpy as np

from tfnas.files import read_state, write_state
from tfnas.spaces.choices import (Architecture, CategoricalSpace, Choice, Condition, Constraint,  # noqa: F401
                                  SearchSpaceError)


class Evaluator(Protocol):
    """Maps an architecture to metrics; the searcher's objective must be among them."""

    def evaluate(self, arch: Architecture) -> dict[str, float]: ...


class Searcher(abc.ABC):
    """Base of every discrete searcher: ask/tell plus complete JSON state.

    Subclasses implement ``_propose`` and may extend ``tell``, ``get_state`` and ``set_state``
    (calling super) for their own state. The RNG is a numpy PCG64 generator whose state is part of
    ``get_state``, so restoring the state continues the identical sequence of proposals.
    """

    name = "searcher"

    def __init__(self, space: CategoricalSpace, objective: str, seed: int = 0, mode: str = "max"):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.space = space
        self.objective = objective
        self.mode = mode
        self.seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.history: list[dict[str, Any]] = []  # [{"arch": ..., "metrics": ...}] in evaluation order

    # --- ask / tell -------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Architecture]:
        return [self._propose() for _ in range(n)]

    @abc.abstractmethod
    def _propose(self) -> Architecture:
        ...

    @property
    def finished(self) -> bool:
        """True when the searcher has nothing more to propose (e.g. PNAS after its last level)."""
        return False

    def tell(self, arch: Architecture, metrics: Mapping[str, float]) -> None:
        if self.objective not in metrics:
            raise KeyError(f"evaluator returned {sorted(metrics)} without the objective {self.objective!r}")
        self.history.append({"arch": dict(arch), "metrics": {k: _jsonable(v) for k, v in metrics.items()}})

    # --- results ----------------------------------------------------------------------------
    def score(self, metrics: Mapping[str, float]) -> float:
        v = float(metrics[self.objective])
        return v if self.mode == "max" else -v

    def best(self) -> dict[str, Any] | None:
        if not self.history:
            return None
        return max(self.history, key=lambda h: self.score(h["metrics"]))

    def best_so_far(self) -> list[float]:
        out, best = [], -math.inf
        for h in self.history:
            best = max(best, self.score(h["metrics"]))
            out.append(best if self.mode == "max" else -best)
        return out

    # --- state ------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {"name": self.name, "objective": self.objective, "mode": self.mode, "seed": self.seed,
                "rng": self.rng.bit_generator.state, "history": [dict(h) for h in self.history]}

    def set_state(self, state: Mapping[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"state was saved by searcher {state.get('name')!r}, not {self.name!r}")
        self.objective, self.mode, self.seed = state["objective"], state["mode"], state["seed"]
        self.rng.bit_generator.state = state["rng"]
        self.history = [dict(h) for h in state["history"]]


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def load_searcher_state(searcher: Searcher, state_path: str) -> bool:
    """Restore ``searcher`` from the newest intact version of its state file; False when there is none.

    A state that does not parse, or that this searcher refuses (another searcher's, other settings,
    a wrong shape), falls back to the previous version with a warning, else is one clear error.
    """
    def restore(state):
        if not isinstance(state, dict):
            raise TypeError(f"a searcher state is a JSON object, got {type(state).__name__}")
        searcher.set_state(state)
        return True

    return bool(read_state(state_path, restore, default=False))


def reached(searcher: Searcher, target: float | None) -> bool:
    """Whether the best result so far meets ``target`` (at least it when maximising, at most when minimising)."""
    if target is None or not searcher.history:
        return False
    best = searcher.best_so_far()[-1]
    return best >= target if searcher.mode == "max" else best <= target


def run_search(searcher: Searcher, evaluator: Evaluator, max_evaluations: int,
               state_path: str | None = None,
               on_result: Callable[[int, Architecture, Mapping[str, float]], None] | None = None,
               target: float | None = None) -> Searcher:
    """Ask, evaluate, tell until ``max_evaluations`` (or until the objective reaches ``target``);
    checkpoint the searcher after every result.

    If ``state_path`` exists, the searcher resumes from it first (so re-running a killed search
    continues where it stopped and ends with the same result); the state is written after every
    result with the previous version kept beside it (``tfnas.files.write_state``).
    """
    if state_path:
        load_searcher_state(searcher, state_path)
    while len(searcher.history) < max_evaluations and not searcher.finished and not reached(searcher, target):
        arch = searcher.ask(1)[0]
        metrics = evaluator.evaluate(arch)
        searcher.tell(arch, metrics)
        if state_path:
            write_state(state_path, searcher.get_state())
        if on_result is not None:
            on_result(len(searcher.history), arch, metrics)
    return searcher
