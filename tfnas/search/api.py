"""The three small APIs of discrete search: a space, an evaluator, a searcher (ask/tell).

In the spirit of KerasTuner's oracle and Archai's searcher: the searcher only proposes
architectures and is told their metrics; how an architecture is evaluated (a table look-up, a
few epochs of training, a supernet forward pass, a latency measurement) is the evaluator's
business. Every searcher keeps all of its state (history, RNG, population, surrogate data) in
``get_state()`` as plain JSON, so ``run_search`` can checkpoint after every evaluation and a
killed search resumes to exactly the result of an uninterrupted one.

An architecture is a plain dict {choice name: option}. Users plug in their own space (a list
of ``Choice``) and evaluator (any object with ``evaluate(arch) -> dict``) without touching tfnas.
"""
from __future__ import annotations

import abc
import dataclasses
import json
import math
import os
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

import numpy as np

from tfnas.errors import UserInputError
from tfnas.files import write_json

Architecture = dict[str, Any]


class SearchSpaceError(UserInputError):
    """An architecture or space definition that does not fit the space."""


@dataclasses.dataclass(frozen=True)
class Choice:
    """One named categorical decision and its options (JSON-serialisable values)."""

    name: str
    options: tuple[Any, ...]

    def __post_init__(self):
        object.__setattr__(self, "options", tuple(self.options))
        if not self.options:
            raise SearchSpaceError(f"choice {self.name!r} has no options")
        if len(set(map(_freeze, self.options))) != len(self.options):
            raise SearchSpaceError(f"choice {self.name!r} has duplicate options")

    def index(self, value: Any) -> int:
        for i, option in enumerate(self.options):
            if _freeze(option) == _freeze(value):
                return i
        raise SearchSpaceError(f"{value!r} is not an option of {self.name!r}; options: {list(self.options)}")


@dataclasses.dataclass(frozen=True)
class Constraint:
    """A named predicate an architecture must satisfy (e.g. a latency or FLOPs limit)."""

    name: str
    predicate: Callable[[Architecture], bool]

    def __call__(self, arch: Architecture) -> bool:
        return bool(self.predicate(arch))


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


class CategoricalSpace:
    """A product of categorical choices, optionally filtered by constraints."""

    def __init__(self, choices: Sequence[Choice], constraints: Sequence[Constraint] = (),
                 max_sampling_tries: int = 10_000):
        names = [c.name for c in choices]
        if len(set(names)) != len(names):
            raise SearchSpaceError(f"duplicate choice names in {names}")
        self.choices = tuple(choices)
        self.constraints = tuple(constraints)
        self.max_sampling_tries = max_sampling_tries

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.choices]

    @property
    def size(self) -> int:
        """Number of architectures before constraints."""
        return math.prod(len(c.options) for c in self.choices)

    def validate(self, arch: Mapping[str, Any]) -> Architecture:
        """Return ``arch`` as a dict if every choice holds one of its options, else raise."""
        if not isinstance(arch, Mapping):
            raise SearchSpaceError(f"an architecture is a dict of choices, got {type(arch).__name__}")
        missing = [n for n in self.names if n not in arch]
        extra = [k for k in arch if k not in self.names]
        if missing or extra:
            raise SearchSpaceError(f"architecture choices do not match the space: missing {missing}, unknown {extra}")
        for c in self.choices:
            c.index(arch[c.name])
        return {c.name: arch[c.name] for c in self.choices}

    def feasible(self, arch: Architecture) -> bool:
        return all(con(arch) for con in self.constraints)

    def violated(self, arch: Architecture) -> list[str]:
        return [con.name for con in self.constraints if not con(arch)]

    def encode(self, arch: Architecture) -> tuple[int, ...]:
        return tuple(c.index(arch[c.name]) for c in self.choices)

    def decode(self, indices: Sequence[int]) -> Architecture:
        if len(indices) != len(self.choices):
            raise SearchSpaceError(f"expected {len(self.choices)} indices, got {len(indices)}")
        return {c.name: c.options[int(i)] for c, i in zip(self.choices, indices)}

    def key(self, arch: Architecture) -> str:
        """A stable string key (for de-duplication and caches)."""
        return ",".join(map(str, self.encode(arch)))

    def one_hot(self, arch: Architecture) -> np.ndarray:
        parts = []
        for c, i in zip(self.choices, self.encode(arch)):
            v = np.zeros(len(c.options), np.float32)
            v[i] = 1.0
            parts.append(v)
        return np.concatenate(parts)

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Uniform over the feasible set (rejection sampling), with a clear error if it looks empty."""
        for _ in range(self.max_sampling_tries):
            arch = {c.name: c.options[int(rng.integers(len(c.options)))] for c in self.choices}
            if self.feasible(arch):
                return arch
        names = [c.name for c in self.constraints]
        raise SearchSpaceError(
            f"no architecture satisfying constraints {names} found in {self.max_sampling_tries} random draws; "
            "the constraints are probably infeasible: relax them (e.g. a higher latency limit)")

    def mutate(self, arch: Architecture, rng: np.random.Generator, num_choices: int = 1) -> Architecture:
        """Change ``num_choices`` randomly picked choices to a different option (feasible result)."""
        mutable = [i for i, c in enumerate(self.choices) if len(c.options) > 1]
        if not mutable:
            return dict(arch)
        for _ in range(self.max_sampling_tries):
            child = dict(arch)
            for i in rng.choice(mutable, size=min(num_choices, len(mutable)), replace=False):
                c = self.choices[int(i)]
                current = c.index(child[c.name])
                other = int(rng.integers(len(c.options) - 1))
                child[c.name] = c.options[other if other < current else other + 1]
            if self.feasible(child):
                return child
        raise SearchSpaceError(f"could not find a feasible mutation of {arch} under {[c.name for c in self.constraints]}")


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


def run_search(searcher: Searcher, evaluator: Evaluator, max_evaluations: int,
               state_path: str | None = None,
               on_result: Callable[[int, Architecture, Mapping[str, float]], None] | None = None) -> Searcher:
    """Ask, evaluate, tell until ``max_evaluations``; checkpoint the searcher after every result.

    If ``state_path`` exists, the searcher resumes from it first (so re-running a killed search
    continues where it stopped and ends with the same result).
    """
    if state_path and os.path.exists(state_path):
        with open(state_path) as f:
            searcher.set_state(json.load(f))
    while len(searcher.history) < max_evaluations and not searcher.finished:
        arch = searcher.ask(1)[0]
        metrics = evaluator.evaluate(arch)
        searcher.tell(arch, metrics)
        if state_path:
            write_json(state_path, searcher.get_state(), indent=None)
        if on_result is not None:
            on_result(len(searcher.history), arch, metrics)
    return searcher


def iter_batches(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
