"""The names of HURRICANE's mobile candidate ops and what they mean, without TensorFlow.

A space's genotype module only needs the vocabulary (which names exist, how channels round), so
it lives apart from the Keras layers (tfnas/ops/mobile_ops.py): parsing a genotype or declaring
the space imports no TensorFlow.
"""
from __future__ import annotations

import dataclasses
import re

from tfnas.errors import UserInputError


SHUFFLE_KERNELS = (3, 5, 7)
MBCONV_KERNELS = (3, 5, 7)
MBCONV_EXPANSIONS = (1, 3, 6)
SE_GATES = ("", "se", "hse")  # none, sigmoid, hard sigmoid

BASE_OPS: tuple[str, ...] = (
    *(f"shufflenet_k{k}" for k in SHUFFLE_KERNELS),
    "shuffle_xception",
    *(f"mbconv_k{k}_e{e}" for k in MBCONV_KERNELS for e in MBCONV_EXPANSIONS),
    "sep_conv_3x3",
)
OPS: tuple[str, ...] = tuple(f"{op}_{gate}" if gate else op for op in BASE_OPS for gate in SE_GATES)
"""The full vocabulary (42 ops): every base op without SE, with a sigmoid SE and with an h-sigmoid SE."""


class UnknownOpError(UserInputError):
    """An op name that is not in the mobile vocabulary."""


@dataclasses.dataclass(frozen=True)
class OpSpec:
    """What an op name means: family, kernel, expansion and squeeze-excite gate ('' = none)."""

    name: str
    family: str  # shufflenet | shuffle_xception | mbconv | sep_conv
    kernel: int
    expansion: int = 1
    se: str = ""


_NAME = re.compile(r"^(?P<base>shufflenet_k(?P<sk>\d)|shuffle_xception|mbconv_k(?P<mk>\d)_e(?P<e>\d)|sep_conv_3x3)"
                   r"(?:_(?P<se>se|hse))?$")


def parse_op(name: str) -> OpSpec:
    """Parse an op name of ``OPS``; anything else is an ``UnknownOpError`` that lists the vocabulary."""
    m = _NAME.match(name) if isinstance(name, str) else None
    if m is None or name not in OPS:
        raise UnknownOpError(f"unknown mobile op {name!r}; the HURRICANE vocabulary is {list(OPS)}")
    se = m.group("se") or ""
    base = m.group("base")
    if base.startswith("shufflenet"):
        return OpSpec(name, "shufflenet", int(m.group("sk")), 1, se)
    if base == "shuffle_xception":
        return OpSpec(name, "shuffle_xception", 3, 1, se)
    if base.startswith("mbconv"):
        return OpSpec(name, "mbconv", int(m.group("mk")), int(m.group("e")), se)
    return OpSpec(name, "sep_conv", 3, 1, se)


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` without going more than 10% below it."""
    min_value = min_value or divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new
