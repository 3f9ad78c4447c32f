"""How a discrete space is declared: named categorical choices, conditions, constraints, operators.

A space is declared once, as a list of ``Choice``; an architecture is a plain dict
{choice name: option}. The space owns the operators searchers need (Archai's split: a searcher
asks the space to sample, mutate, cross over, encode), so every searcher treats every space alike
and a new space needs no searcher code:

* ``draw`` / ``sample``: uniform over every choice (``sample`` rejects infeasible draws);
* ``mutate`` (change k active choices) and ``resample`` (re-draw each active choice with a
  probability), ``crossover`` (each choice from one of two parents);
* ``encode`` / ``decode`` / ``one_hot`` / ``key``: numeric forms for surrogates and de-duplication;
* ``canonical``: the one representative of all architectures that compute the same network.

Conditional choices: a choice may matter only when another takes some values (ViTAS' block
options only when the block is not an identity; a PNAS block only when the cell has that many
blocks): ``Choice(..., condition=Condition("depth", (3, 4)))``. Every architecture still holds a
value for every choice (fixed-length encodings stay simple), but ``canonical`` sets inactive
choices to their first option and ``key`` compares canonical forms, so two architectures that
differ only where it has no effect are the same architecture; mutation only touches active
choices (changing an inactive one would cost an evaluation and change nothing).

This module imports no TensorFlow: tabular searches over a space start in a fraction of a second.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from tfnas.errors import UserInputError

Architecture = dict[str, Any]


class SearchSpaceError(UserInputError):
    """An architecture or space definition that does not fit the space."""


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


@dataclasses.dataclass(frozen=True)
class Condition:
    """``choice`` must hold one of ``values`` for the conditioned choice to have any effect."""

    choice: str
    values: tuple[Any, ...]

    def __post_init__(self):
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise SearchSpaceError(f"a condition on {self.choice!r} needs at least one value")

    def holds(self, arch: Mapping[str, Any]) -> bool:
        value = _freeze(arch.get(self.choice))
        return any(_freeze(v) == value for v in self.values)


@dataclasses.dataclass(frozen=True)
class Choice:
    """One named categorical decision, its options (JSON-serialisable values) and when it matters."""

    name: str
    options: tuple[Any, ...]
    condition: Condition | None = None

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


class CategoricalSpace:
    """A product of categorical choices, with conditions between them, filtered by constraints."""

    def __init__(self, choices: Sequence[Choice], constraints: Sequence[Constraint] = (),
                 max_sampling_tries: int = 10_000):
        names = [c.name for c in choices]
        if len(set(names)) != len(names):
            raise SearchSpaceError(f"duplicate choice names in {names}")
        seen: set[str] = set()
        for c in choices:
            if c.condition is not None:
                if c.condition.choice not in seen:
                    raise SearchSpaceError(f"choice {c.name!r} is conditioned on {c.condition.choice!r}, which must "
                                           "be declared before it")
                parent = choices[names.index(c.condition.choice)]
                for v in c.condition.values:
                    parent.index(v)
            seen.add(c.name)
        self.choices = tuple(choices)
        self.constraints = tuple(constraints)
        self.max_sampling_tries = max_sampling_tries
        self._conditional = any(c.condition is not None for c in self.choices)

    def with_constraints(self, constraints: Sequence[Constraint]) -> "CategoricalSpace":
        """The same choices under ``constraints`` (added to the space's own)."""
        return CategoricalSpace(self.choices, self.constraints + tuple(constraints), self.max_sampling_tries)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.choices]

    @property
    def size(self) -> int:
        """Number of architectures before constraints (conditional duplicates counted separately)."""
        return math.prod(len(c.options) for c in self.choices)

    # --- checking -----------------------------------------------------------------------------------
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

    def active(self, arch: Mapping[str, Any], choice: Choice) -> bool:
        """Whether ``choice`` has an effect in ``arch`` (its condition, and its parent's, hold)."""
        while choice.condition is not None:
            if not choice.condition.holds(arch):
                return False
            choice = self.choices[self.names.index(choice.condition.choice)]
        return True

    def canonical(self, arch: Mapping[str, Any]) -> Architecture:
        """``arch`` with every inactive choice at its first option: one form per distinct network."""
        if not self._conditional:
            return dict(arch)
        return {c.name: arch[c.name] if self.active(arch, c) else c.options[0] for c in self.choices}

    # --- numeric forms ------------------------------------------------------------------------------
    def encode(self, arch: Architecture) -> tuple[int, ...]:
        return tuple(c.index(arch[c.name]) for c in self.choices)

    def decode(self, indices: Sequence[int]) -> Architecture:
        if len(indices) != len(self.choices):
            raise SearchSpaceError(f"expected {len(self.choices)} indices, got {len(indices)}")
        return {c.name: c.options[int(i)] for c, i in zip(self.choices, indices)}

    def key(self, arch: Architecture) -> str:
        """A stable string key of the canonical form (for de-duplication and caches)."""
        return ",".join(map(str, self.encode(self.canonical(arch))))

    def one_hot(self, arch: Architecture) -> np.ndarray:
        parts = []
        for c, i in zip(self.choices, self.encode(arch)):
            v = np.zeros(len(c.options), np.float32)
            v[i] = 1.0
            parts.append(v)
        return np.concatenate(parts)

    # --- operators ----------------------------------------------------------------------------------
    def draw(self, rng: np.random.Generator) -> Architecture:
        """One uniform draw of every choice, constraints ignored, in canonical form."""
        return self.canonical({c.name: c.options[int(rng.integers(len(c.options)))] for c in self.choices})

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Uniform over the feasible set (rejection sampling), with a clear error if it looks empty."""
        for _ in range(self.max_sampling_tries):
            arch = self.draw(rng)
            if self.feasible(arch):
                return arch
        names = [c.name for c in self.constraints]
        raise SearchSpaceError(
            f"no architecture satisfying constraints {names} found in {self.max_sampling_tries} random draws; "
            "the constraints are probably infeasible: relax them (e.g. a higher latency limit)")

    def _mutable(self, arch: Mapping[str, Any]) -> list[int]:
        return [i for i, c in enumerate(self.choices) if len(c.options) > 1 and self.active(arch, c)]

    def mutate(self, arch: Architecture, rng: np.random.Generator, num_choices: int = 1) -> Architecture:
        """Change ``num_choices`` randomly picked active choices to a different option (feasible result)."""
        if not self._mutable(arch):
            return dict(arch)
        for _ in range(self.max_sampling_tries):
            child = dict(arch)
            mutable = self._mutable(child)
            for i in rng.choice(mutable, size=min(num_choices, len(mutable)), replace=False):
                c = self.choices[int(i)]
                current = c.index(child[c.name])
                other = int(rng.integers(len(c.options) - 1))
                child[c.name] = c.options[other if other < current else other + 1]
            child = self.canonical(child)
            if self.feasible(child):
                return child
        raise SearchSpaceError(f"could not find a feasible mutation of {arch} under {[c.name for c in self.constraints]}")

    def resample(self, arch: Architecture, rng: np.random.Generator, prob: float) -> Architecture:
        """Re-draw every active choice uniformly with probability ``prob`` (SPOS' mutation; may keep the
        same option). Constraints are not checked: the caller decides what to do with an infeasible child."""
        child = dict(arch)
        for c in self.choices:
            if self.active(child, c) and rng.random() < prob:
                child[c.name] = c.options[int(rng.integers(len(c.options)))]
        return self.canonical(child)

    def crossover(self, a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture:
        """Each choice from ``a`` or ``b`` with equal probability (uniform crossover; not checked)."""
        return self.canonical({c.name: (a if rng.random() < 0.5 else b)[c.name] for c in self.choices})
