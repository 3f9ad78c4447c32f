"""What every genotype shares: JSON that names its space and version, and clear errors.

A genotype file is plain JSON, e.g. ``{"space": "darts", "version": 1, ...}``; the
``space`` field picks the class that parses the rest, so a file written by any search
rebuilds the same network with ``binaries.train``.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Protocol

from tfnas.errors import UserInputError
from tfnas.files import write_json


class GenotypeError(UserInputError):
    """A genotype that cannot be used: malformed, of an unknown space, or of the wrong space."""


class Genotype(Protocol):
    SPACE: str
    VERSION: int

    def to_json(self) -> dict[str, Any]: ...


_PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {}


def register_genotype(space: str, parser: Callable[[dict[str, Any]], Any]) -> None:
    """Register ``parser(json_dict) -> genotype`` for genotypes whose "space" is ``space``."""
    _PARSERS[space] = parser


NOT_SPACES = frozenset({"base", "choices", "networks", "layerwise"})
"""Modules of tfnas/spaces that declare no space (the framework the spaces are declared with)."""


def _space_modules() -> list[str]:
    import pkgutil

    import tfnas.spaces as package

    return [m.name for m in pkgutil.iter_modules(package.__path__)
            if m.name not in NOT_SPACES and not m.name.endswith("_network")]


def _import_space(space: str) -> None:
    """Import the module declaring ``space`` (tfnas/spaces/<space>.py) when it exists."""
    import importlib

    if space not in _PARSERS and isinstance(space, str) and space in _space_modules():
        importlib.import_module(f"tfnas.spaces.{space}")


def known_spaces() -> list[str]:
    """Every space with a registered genotype (imports every space module; none needs TensorFlow)."""
    import importlib

    for name in _space_modules():
        importlib.import_module(f"tfnas.spaces.{name}")
    return sorted(_PARSERS)


def genotype_from_json(data: Any, expected_space: str | None = None, source: str = "genotype") -> Any:
    """Parse a genotype dict, checking its space (and optionally that it is ``expected_space``)."""
    if not isinstance(data, dict) or "space" not in data:
        raise GenotypeError(
            f"{source}: a genotype is a JSON object with a 'space' field "
            f"(one of {known_spaces()}); got {type(data).__name__}."
        )
    space = data["space"]
    _import_space(space)
    if space not in _PARSERS:
        raise GenotypeError(
            f"{source}: unknown space {space!r}; known spaces: {known_spaces()}."
        )
    if expected_space is not None and space != expected_space:
        raise GenotypeError(
            f"{source}: genotype is for space {space!r} but {expected_space!r} was asked for; "
            f"pass a genotype searched in {expected_space!r} or change the space flag."
        )
    try:
        return _PARSERS[space](data)
    except GenotypeError as e:
        raise GenotypeError(f"{source}: {e}") from None
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise GenotypeError(f"{source}: malformed {space} genotype ({type(e).__name__}: {e}).") from None


def load_genotype(path: str, expected_space: str | None = None) -> Any:
    """Read a genotype JSON file (genotype.json as written by every search binary)."""
    if not os.path.exists(path):
        raise GenotypeError(f"genotype file {path!r} does not exist; pass --genotype=<output_dir>/genotype.json.")
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise GenotypeError(f"{path}: not valid JSON ({e}); expected a genotype.json written by a search.") from None
    return genotype_from_json(data, expected_space, source=path)


def save_genotype(genotype: Genotype | dict[str, Any], path: str) -> None:
    """Write atomically so an interrupted run never leaves half a genotype behind.

    A plain dict is written as it is (a user's own space may describe its result that way).
    """
    write_json(path, genotype if isinstance(genotype, dict) else genotype.to_json())
