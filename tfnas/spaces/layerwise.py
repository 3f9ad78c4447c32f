"""A space-neutral description of a layer-wise network for latency profiling (nn-Meter's kernel view).

Latency tables (tfnas/hardware/latency_table.py) and hardware-aware space generation
(tfnas/hardware/space_generation.py) measure and rank candidate ops per layer position without
knowing which space they come from. A space that wants per-device tables describes itself as a
``LayerwiseProfile``: its geometry (what a table is valid for), the searchable layer positions
(input shape, output channels, stride), the op vocabulary, and builders for one-op models, the
fixed parts (stem, head) and whole networks. HURRICANE's mobile space registers one; another
layer-wise space (ViTAS' blocks, MANAS' cells) registers its own and gets tables for free.

Builders are plain callables: the spaces import their Keras code lazily inside them, so this
module and the space declarations stay TensorFlow-free.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Mapping, Sequence

from tfnas.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class LayerPosition:
    """Where a searchable layer sits: its input shape (H, W, C), output channels and stride."""

    index: int
    stage: int
    in_shape: tuple[int, int, int]
    out_channels: int
    stride: int

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, _ = self.in_shape
        return (-(-h // self.stride), -(-w // self.stride), self.out_channels)

    def key(self) -> str:
        """Identifies the op's workload: layers with equal keys cost the same on a device."""
        h, w, c = self.in_shape
        return f"{h}x{w}x{c}-{self.out_channels}-s{self.stride}"


@dataclasses.dataclass(frozen=True)
class LayerwiseProfile:
    """What a latency table of one space geometry measures, and how to build it.

    ``geometry``: the settings a table is valid for (compared on load; also the flags that rebuild it).
    ``build_op(position, op)``: the Keras layer of ``op`` at ``position`` (input from its input).
    ``fixed_models``: name -> () -> a batch-1 Keras model of a fixed part (stem, head).
    ``build_network(ops)``: the whole batch-1 network with one op per searchable layer.
    ``op_macs(position, op)``: multiply-accumulates (the capacity measure of space generation).
    ``op_expansion(op)``: the ratio of the op's widest inner tensor to its input (working set).
    """

    space: str
    space_version: int
    geometry: Mapping[str, Any]
    positions: tuple[LayerPosition, ...]
    vocabulary: tuple[str, ...]
    build_op: Callable[[LayerPosition, str], Any]
    fixed_models: Mapping[str, Callable[[], Any]]
    build_network: Callable[[Sequence[str]], Any]
    op_macs: Callable[[LayerPosition, str], int]
    op_expansion: Callable[[str], int] = lambda op: 1
    parse_op: Callable[[str], Any] = lambda op: op

    @property
    def num_layers(self) -> int:
        return len(self.positions)

    def build_flags(self) -> str:
        """The profile_latency flags that build a table of this geometry."""
        return " ".join([f"--space={self.space}"] + [f"--{k}={v}" for k, v in self.geometry.items()])


ProfileFactory = Callable[..., LayerwiseProfile]
_FACTORIES: dict[str, ProfileFactory] = {}


class UnknownProfileSpace(UserInputError):
    """A latency table asked for a space that describes no layer-wise profile."""


def register_profile(space: str, factory: ProfileFactory) -> None:
    """``factory(**geometry) -> LayerwiseProfile`` makes ``space``'s profile for one geometry."""
    _FACTORIES[space] = factory


def profile_for(space: str, geometry: Mapping[str, Any]) -> LayerwiseProfile:
    """The profile of ``space`` at ``geometry`` (imports tfnas/spaces/<space>.py, which registers it)."""
    if space not in _FACTORIES:
        try:
            importlib.import_module(f"tfnas.spaces.{space}")
        except ImportError:
            pass
    if space not in _FACTORIES:
        raise UnknownProfileSpace(f"space {space!r} has no layer-wise latency profile; spaces with one: "
                                  f"{sorted(_FACTORIES)}")
    return _FACTORIES[space](**dict(geometry))


def as_profile(space_or_profile: Any) -> LayerwiseProfile:
    """A profile, or anything that describes one (a space geometry with a ``profile()`` method)."""
    if isinstance(space_or_profile, LayerwiseProfile):
        return space_or_profile
    return space_or_profile.profile()
