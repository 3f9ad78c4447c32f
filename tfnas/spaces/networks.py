"""Which Keras network each space's genotype becomes: builders registered by the spaces themselves.

A space ``S`` is two modules (no central list to edit): ``tfnas/spaces/S.py`` declares its choices
and genotype (``register_genotype``) and ``tfnas/spaces/S_network.py`` builds its child network and
registers the builder here (``register_network``). Binary (Larq) networks live in
``S_binary_network.py`` modules, imported only when a binary network is asked for, so float-only
users never load Larq. Lookups import the modules on demand by that naming rule; listing every
space imports them all, so error messages name every space that has a network.

A builder is called as ``build(genotype, num_classes, input_shape, *, layers, init_channels,
**options)`` and returns a keras.Model (logits, or [logits, aux_logits] when it supports an
auxiliary head and ``auxiliary=True``). What a builder can take is declared with it:
``auxiliary`` (an auxiliary head), ``drop_path`` (``drop_path_rate`` and ``generator``),
``sizes`` (whether ``layers`` / ``init_channels`` mean anything: a layer-wise genotype fixes both),
``input_size(genotype)`` when the genotype fixes the input resolution it was searched for, and
``depth(genotype)`` when it fixes the number of cells (a MANAS genotype has one cell entry per
cell): ``check_depth`` then refuses any other ``layers`` with one clear error.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable

from tfnas.errors import UserInputError

NETWORK_SUFFIX = "_network"
BINARY_NETWORK_SUFFIX = "_binary_network"


@dataclasses.dataclass(frozen=True)
class NetworkBuilder:
    """A registered child-network builder and what it accepts."""

    space: str
    build: Callable[..., Any]
    binary: bool = False
    eval_defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
    auxiliary: bool = False
    drop_path: bool = False
    sizes: bool = True
    input_size: Callable[[Any], int | None] | None = None
    depth: Callable[[Any], int | None] | None = None

    def check_depth(self, genotype: Any, layers: int | None) -> int | None:
        """The depth to build ``genotype`` at: its own when it fixes one (another ``layers`` is refused
        with a ``DepthFixedByGenotype`` error naming both), else ``layers``."""
        fixed = self.depth(genotype) if self.depth is not None else None
        if fixed is None:
            return layers
        if layers is not None and layers != fixed:
            raise DepthFixedByGenotype(
                f"this {self.space} genotype has one cell entry per cell and fixes the depth at {fixed} cells (it "
                f"was searched at that depth), so it cannot be built with --layers={layers}; drop --layers or pass "
                f"--layers={fixed}")
        return fixed


_BUILDERS: dict[tuple[str, bool], NetworkBuilder] = {}


class NoNetworkForGenotype(UserInputError):
    """The genotype's space has no (float or binary) network of the kind asked for."""


class DepthFixedByGenotype(UserInputError):
    """A number of cells other than the one the genotype fixes."""


def register_network(space: str, build: Callable[..., Any], *, binary: bool = False,
                     eval_defaults: dict[str, Any] | None = None, auxiliary: bool = False, drop_path: bool = False,
                     sizes: bool = True, input_size: Callable[[Any], int | None] | None = None,
                     depth: Callable[[Any], int | None] | None = None) -> None:
    """Register ``build`` as the (float or binary) child network of genotypes of ``space``.

    ``eval_defaults`` are the evaluation recipe's sizes ({"layers", "init_channels"}) used when the
    caller gives none.
    """
    _BUILDERS[(space, binary)] = NetworkBuilder(space, build, binary, dict(eval_defaults or {}), auxiliary,
                                                drop_path, sizes, input_size, depth)


def _network_modules(binary: bool) -> list[str]:
    import tfnas.spaces as package

    names = [m.name for m in pkgutil.iter_modules(package.__path__)]
    if binary:
        return [n for n in names if n.endswith(BINARY_NETWORK_SUFFIX)]
    return [n for n in names if n.endswith(NETWORK_SUFFIX) and not n.endswith(BINARY_NETWORK_SUFFIX)]


def _import(module: str) -> None:
    importlib.import_module(f"tfnas.spaces.{module}")


def _load(space: str, binary: bool) -> None:
    if (space, binary) in _BUILDERS:
        return
    own = f"{space}{BINARY_NETWORK_SUFFIX if binary else NETWORK_SUFFIX}"
    modules = _network_modules(binary)
    if own in modules:
        _import(own)
    if (space, binary) not in _BUILDERS:  # registered by another space's module (e.g. binary DARTS by BATS')
        for module in modules:
            _import(module)


def spaces_with_network(binary: bool) -> list[str]:
    """Every space with a registered network of the kind (imports every network module of that kind)."""
    for module in _network_modules(binary):
        _import(module)
    return sorted(space for space, b in _BUILDERS if b == binary)


def network_builder(space: str, binary: bool = False) -> NetworkBuilder:
    """The builder of ``space``'s float (or binary) network, or one clear error naming what exists."""
    _load(space, binary)
    if (space, binary) in _BUILDERS:
        return _BUILDERS[(space, binary)]
    if binary:
        raise NoNetworkForGenotype(f"space {space!r} has no binary network (binary networks exist for "
                                   f"{spaces_with_network(True)}); drop --binary to train its float network")
    _load(space, True)
    if (space, True) in _BUILDERS:
        raise NoNetworkForGenotype(f"a {space!r} genotype describes a binary network and the float space has no "
                                   "network for it: train it with --binary (binaries.train --binary)")
    known = sorted(set(spaces_with_network(False)) | set(spaces_with_network(True)))
    raise NoNetworkForGenotype(f"no network builder for space {space!r}; registered: {known}")
