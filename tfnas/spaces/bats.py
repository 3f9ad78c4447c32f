"""BATS binary cell space: the DARTS cell (2 inputs, 4 nodes, 14 edges) over binary-oriented ops.

The cell structure, genotype format and derivation rule are DARTS' (tfnas.spaces.darts); only
the op vocabulary differs (Bulat et al., BATS, ECCV 2020): grouped binary convolutions with a
channel shuffle instead of depthwise-separable ones, their dilated versions, pooling, skip and
zero. A genotype file names space "bats", so it can only be built as a binary network
(``binaries.train --binary``); the float DARTS builder refuses it.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from tfnas.spaces import darts
from tfnas.spaces.base import register_genotype

SPACE = "bats"
VERSION = 1
OPS: tuple[str, ...] = (
    "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
    "group_conv_3x3", "group_conv_5x5", "dil_group_conv_3x3", "dil_group_conv_5x5",
)
"""BATS candidates. The library names the grouped ops sep_conv_k / dil_conv_k (one grouped
binary conv each); here they are named for what they compute."""


class BatsGenotype(darts.DartsGenotype):
    """A DARTS-style genotype over the BATS ops: ``normal``/``reduce`` are 8 (op, input) pairs."""

    SPACE: ClassVar[str] = SPACE
    VERSION: ClassVar[int] = VERSION
    OPS: ClassVar[tuple[str, ...]] = OPS


register_genotype(SPACE, BatsGenotype.from_json)


def derive_genotype(normal_weights: np.ndarray, reduce_weights: np.ndarray) -> BatsGenotype:
    """DARTS' derivation (top-2 incoming edges per node by strongest non-none op) over BATS ops."""
    return darts.derive_genotype(normal_weights, reduce_weights, genotype_cls=BatsGenotype)
