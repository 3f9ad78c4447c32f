"""The HURRICANE layer-wise mobile space: stem, 20 searchable layers in 4 stages, head.

Backbone (Zhang et al., HURRICANE): conv3x3 stride 2 with 16 channels -> 20 searchable layers in
stages of [4, 4, 8, 4] layers with [64, 160, 320, 640] channels, the first layer of every stage
strided -> conv1x1 with 1024 channels -> global average pool -> fully connected classifier. Every
channel count (stem and head included) is multiplied by ``width_multiplier`` and rounded to a
multiple of 8, and the input resolution is a parameter, so the same space runs at ImageNet size
(224) and at 32x32 on a small CPU.

A genotype is one op name (tfnas/ops/mobile_vocabulary.py) per searchable layer, plus the
resolution and width it was searched for: ``{"space": "hurricane", "version": 1, "resolution": 32,
"width_multiplier": 0.25, "ops": [20 names]}``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Sequence

import numpy as np

from tfnas.ops import mobile_vocabulary
from tfnas.spaces.base import GenotypeError, register_genotype
from tfnas.spaces.choices import CategoricalSpace, Choice, Constraint
from tfnas.spaces.layerwise import LayerPosition, LayerwiseProfile, register_profile

SPACE = "hurricane"
VERSION = 1
STAGE_LAYERS: tuple[int, ...] = (4, 4, 8, 4)
STAGE_CHANNELS: tuple[int, ...] = (64, 160, 320, 640)
STEM_CHANNELS = 16
HEAD_CHANNELS = 1024
NUM_LAYERS = sum(STAGE_LAYERS)
OPS = mobile_vocabulary.OPS


@dataclasses.dataclass(frozen=True)
class HurricaneConfig:
    """The geometry of the space: input resolution, width multiplier, input channels, classes."""

    resolution: int = 224
    width_multiplier: float = 1.0
    input_channels: int = 3
    num_classes: int = 1000

    def __post_init__(self):
        if self.resolution < 32 or self.resolution % 32:
            raise ValueError(f"resolution must be a multiple of 32 (the backbone strides by 32), got {self.resolution}")
        if not 0.0 < self.width_multiplier <= 4.0:
            raise ValueError(f"width_multiplier must be in (0, 4], got {self.width_multiplier}")
        if self.input_channels < 1 or self.num_classes < 2:
            raise ValueError(f"need input_channels >= 1 and num_classes >= 2, got {self.input_channels}, {self.num_classes}")

    def channels(self, base: int) -> int:
        return mobile_vocabulary.make_divisible(base * self.width_multiplier, 8)

    @property
    def stem_channels(self) -> int:
        return self.channels(STEM_CHANNELS)

    @property
    def head_channels(self) -> int:
        return self.channels(HEAD_CHANNELS)

    def positions(self) -> list[LayerPosition]:
        """The 20 searchable layers' positions in order."""
        out: list[LayerPosition] = []
        size = -(-self.resolution // 2)
        channels = self.stem_channels
        index = 0
        for stage, (count, base) in enumerate(zip(STAGE_LAYERS, STAGE_CHANNELS)):
            width = self.channels(base)
            for i in range(count):
                stride = 2 if i == 0 else 1
                out.append(LayerPosition(index, stage, (size, size, channels), width, stride))
                size, channels = -(-size // stride), width
                index += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def profile(self) -> LayerwiseProfile:
        """The space-neutral description latency tables are measured from (tfnas/spaces/layerwise.py)."""
        return latency_profile(**self.to_json())


@dataclasses.dataclass(frozen=True)
class HurricaneGenotype:
    """One op per searchable layer, with the resolution and width multiplier it was searched at."""

    ops: tuple[str, ...]
    resolution: int = 224
    width_multiplier: float = 1.0
    SPACE: ClassVar[str] = SPACE
    VERSION: ClassVar[int] = VERSION

    def __post_init__(self):
        ops = tuple(self.ops)
        object.__setattr__(self, "ops", ops)
        if len(ops) != NUM_LAYERS:
            raise GenotypeError(f"a HURRICANE genotype has {NUM_LAYERS} ops (one per searchable layer), got {len(ops)}")
        for i, op in enumerate(ops):
            if op not in OPS:
                raise GenotypeError(f"layer {i}: unknown op {op!r}; valid ops: {list(OPS)}")

    def config(self, input_channels: int = 3, num_classes: int = 1000) -> HurricaneConfig:
        return HurricaneConfig(self.resolution, self.width_multiplier, input_channels, num_classes)

    def to_json(self) -> dict[str, Any]:
        return {"space": SPACE, "version": VERSION, "resolution": self.resolution,
                "width_multiplier": self.width_multiplier, "ops": list(self.ops)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "HurricaneGenotype":
        if int(data.get("version", VERSION)) != VERSION:
            raise GenotypeError(f"unsupported hurricane genotype version {data.get('version')}; this tfnas reads {VERSION}")
        return cls(tuple(data["ops"]), int(data["resolution"]), float(data["width_multiplier"]))

    def __str__(self) -> str:
        return f"hurricane@{self.resolution}px x{self.width_multiplier}: " + " ".join(self.ops)


register_genotype(SPACE, HurricaneGenotype.from_json)


def layer_name(index: int) -> str:
    """The name of searchable layer ``index`` (Keras layer names, choice names, table rows)."""
    return f"layer_{index:02d}"


# --- the space as categorical choices --------------------------------------------------------------
def choice_name(index: int) -> str:
    return layer_name(index)


def categorical_space(candidates: Sequence[Sequence[str]] | None = None,
                      constraints: Sequence[Constraint] = ()) -> CategoricalSpace:
    """One choice per searchable layer over its candidate ops (the full vocabulary by default)."""
    if candidates is None:
        candidates = [OPS] * NUM_LAYERS
    if len(candidates) != NUM_LAYERS:
        raise ValueError(f"need candidate ops for {NUM_LAYERS} layers, got {len(candidates)}")
    for i, ops in enumerate(candidates):
        for op in ops:
            mobile_vocabulary.parse_op(op)
    return CategoricalSpace([Choice(choice_name(i), tuple(ops)) for i, ops in enumerate(candidates)], constraints)


def arch_to_genotype(arch: dict[str, str], resolution: int, width_multiplier: float) -> HurricaneGenotype:
    return HurricaneGenotype(tuple(arch[choice_name(i)] for i in range(NUM_LAYERS)), resolution, width_multiplier)


def genotype_to_arch(genotype: HurricaneGenotype) -> dict[str, str]:
    return {choice_name(i): op for i, op in enumerate(genotype.ops)}


def random_genotype(rng: np.random.Generator, resolution: int, width_multiplier: float,
                    candidates: Sequence[Sequence[str]] | None = None) -> HurricaneGenotype:
    candidates = candidates or [OPS] * NUM_LAYERS
    return HurricaneGenotype(tuple(c[int(rng.integers(len(c)))] for c in candidates), resolution, width_multiplier)


# --- the space as latency tables see it ----------------------------------------------------------------------
def latency_profile(resolution: int = 224, width_multiplier: float = 1.0, input_channels: int = 3,
                    num_classes: int = 1000) -> LayerwiseProfile:
    """Positions, vocabulary and builders of one geometry; Keras code is imported only when a builder runs."""
    config = HurricaneConfig(resolution, width_multiplier, input_channels, num_classes)

    def build_op(position: LayerPosition, op: str):
        from tfnas.ops import mobile_ops

        return mobile_ops.build_op(op, position.out_channels, position.stride)

    def stem_model():
        from tfnas.spaces import hurricane_network

        return hurricane_network.stem_model(config)

    def head_model():
        from tfnas.spaces import hurricane_network

        return hurricane_network.head_model(config)

    def build_network(ops):
        from tfnas.spaces import hurricane_network

        genotype = HurricaneGenotype(tuple(ops), config.resolution, config.width_multiplier)
        return hurricane_network.build_child(genotype, config.num_classes, config.input_channels)

    def op_macs(position: LayerPosition, op: str) -> int:
        from tfnas.ops import mobile_ops

        return mobile_ops.op_macs(op, position.in_shape, position.out_channels, position.stride)

    return LayerwiseProfile(
        space=SPACE, space_version=VERSION, geometry=config.to_json(), positions=tuple(config.positions()),
        vocabulary=OPS, build_op=build_op, fixed_models={"stem": stem_model, "head": head_model},
        build_network=build_network, op_macs=op_macs,
        op_expansion=lambda op: mobile_vocabulary.parse_op(op).expansion, parse_op=mobile_vocabulary.parse_op)


register_profile(SPACE, latency_profile)
