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


def derived_op_weights(genotype: darts.DartsGenotype) -> dict[str, np.ndarray]:
    """The op weights under which a DARTS-cell supernet computes exactly ``genotype``.

    Per cell type a [14, len(OPS)] one-hot matrix: the chosen op on each of the 8 chosen edges,
    ``none`` on the 6 edges derivation dropped. Works for BATS and DARTS genotypes alike (both
    use the DARTS cell); the supernet evaluated with these weights is the derived network, so its
    accuracy next to the supernet's own measures what derivation changed (the discretisation gap).
    Derived genotypes read two different edges per node and concatenate every node, which is
    what a supernet computes; a hand-made genotype reading one edge twice is refused.
    """
    ops = list(genotype.OPS)
    out = {}
    for name, reduction in (("normal", False), ("reduce", True)):
        w = np.zeros((darts.NUM_EDGES, len(ops)), np.float32)
        w[:, ops.index("none")] = 1.0
        pairs = genotype.cell(reduction)
        for k, (op, source) in enumerate(pairs):
            edge = darts.edge_index(k // 2, source)
            if w[edge, ops.index("none")] == 0.0:
                raise ValueError(f"{name} cell: node {k // 2} reads input {source} twice; a supernet has one edge there")
            w[edge] = 0.0
            w[edge, ops.index(op)] = 1.0
        out[name] = w
    return out
