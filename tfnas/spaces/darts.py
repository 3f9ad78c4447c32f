"""DARTS cell space: normal and reduction cells of 2 inputs + 4 nodes, 14 edges, 8 ops.

Node i (0..3) may read the two cell inputs and every earlier node, so it has i + 2 incoming
edges; the edges are numbered node by node (0-1 for node 0, 2-4 for node 1, ...). A genotype
keeps two (op, input) pairs per node, as DARTS derives it: for every node the two incoming edges
whose strongest non-``none`` op weighs most, each with that op.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Sequence

import numpy as np

from tfnas.spaces.base import GenotypeError, register_genotype

SPACE = "darts"
VERSION = 1
OPS: tuple[str, ...] = (
    "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
    "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
)
NUM_NODES = 4
NUM_INPUTS = 2
EDGES: tuple[tuple[int, int], ...] = tuple(
    (node, src) for node in range(NUM_NODES) for src in range(node + NUM_INPUTS)
)
"""(node, source state) per edge; source 0/1 are the cell inputs, source k+2 is node k."""
NUM_EDGES = len(EDGES)  # 14

Pair = tuple[str, int]


def _check_cell(pairs: Sequence[Sequence[Any]], kind: str, ops: Sequence[str]) -> tuple[Pair, ...]:
    pairs = tuple((str(p[0]), int(p[1])) for p in pairs)
    if len(pairs) != 2 * NUM_NODES:
        raise GenotypeError(f"{kind} cell needs {2 * NUM_NODES} (op, input) pairs, 2 per node; got {len(pairs)}")
    for k, (op, src) in enumerate(pairs):
        node = k // 2
        if op not in ops:
            raise GenotypeError(f"unknown op {op!r} in {kind} cell; valid ops: {[o for o in ops if o != 'none']}")
        if op == "none":
            raise GenotypeError(f"{kind} cell: 'none' cannot be chosen in a derived genotype")
        if not 0 <= src < node + NUM_INPUTS:
            raise GenotypeError(f"{kind} cell: node {node} cannot read state {src} (valid: 0..{node + 1})")
    return pairs


@dataclasses.dataclass(frozen=True)
class DartsGenotype:
    """DARTS-style genotype: ``normal``/``reduce`` are 8 (op, input) pairs, 2 per node."""

    normal: tuple[Pair, ...]
    reduce: tuple[Pair, ...]
    normal_concat: tuple[int, ...] = (2, 3, 4, 5)
    reduce_concat: tuple[int, ...] = (2, 3, 4, 5)
    SPACE: ClassVar[str] = SPACE
    VERSION: ClassVar[int] = VERSION
    OPS: ClassVar[tuple[str, ...]] = OPS
    """Op vocabulary; spaces that reuse the DARTS cell with other ops (BATS) subclass this."""

    def __post_init__(self):
        object.__setattr__(self, "normal", _check_cell(self.normal, "normal", self.OPS))
        object.__setattr__(self, "reduce", _check_cell(self.reduce, "reduce", self.OPS))
        object.__setattr__(self, "normal_concat", tuple(int(i) for i in self.normal_concat))
        object.__setattr__(self, "reduce_concat", tuple(int(i) for i in self.reduce_concat))
        for name in ("normal_concat", "reduce_concat"):
            bad = [i for i in getattr(self, name) if not 0 <= i < NUM_NODES + NUM_INPUTS]
            if bad:
                raise GenotypeError(f"{name} holds invalid states {bad}")

    def to_json(self) -> dict[str, Any]:
        return {
            "space": self.SPACE, "version": self.VERSION,
            "normal": [list(p) for p in self.normal], "normal_concat": list(self.normal_concat),
            "reduce": [list(p) for p in self.reduce], "reduce_concat": list(self.reduce_concat),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DartsGenotype":
        if int(data.get("version", cls.VERSION)) != cls.VERSION:
            raise GenotypeError(f"unsupported {cls.SPACE} genotype version {data.get('version')}; "
                                f"this tfnas reads {cls.VERSION}")
        return cls(
            normal=tuple(tuple(p) for p in data["normal"]),
            reduce=tuple(tuple(p) for p in data["reduce"]),
            normal_concat=tuple(data.get("normal_concat", (2, 3, 4, 5))),
            reduce_concat=tuple(data.get("reduce_concat", (2, 3, 4, 5))),
        )

    def cell(self, reduction: bool) -> tuple[Pair, ...]:
        return self.reduce if reduction else self.normal

    def concat(self, reduction: bool) -> tuple[int, ...]:
        return self.reduce_concat if reduction else self.normal_concat

    def __str__(self) -> str:
        return (f"Genotype(normal={list(self.normal)}, normal_concat={list(self.normal_concat)}, "
                f"reduce={list(self.reduce)}, reduce_concat={list(self.reduce_concat)})")


register_genotype(SPACE, DartsGenotype.from_json)


def derive_cell(weights: np.ndarray, ops: Sequence[str] = OPS, tie_break: np.ndarray | None = None) -> tuple[Pair, ...]:
    """DARTS' rule for one cell from its [14, num_ops] op weights (softmax or sigmoid values, or
    any per-edge op scores such as MANAS agents' sampling probabilities).

    Per node: rank incoming edges by their strongest non-``none`` weight, keep the top two and
    take that strongest op on each. Equal weights go to the larger ``tie_break`` value of the
    same shape (MANAS passes seeded random numbers, so uniform agents give a random cell), and
    without it to the lower op index and the lower input index.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (NUM_EDGES, len(ops)):
        raise ValueError(f"expected op weights of shape {(NUM_EDGES, len(ops))}, got {weights.shape}")
    keys = np.zeros_like(weights) if tie_break is None else np.asarray(tie_break, dtype=np.float64)
    if keys.shape != weights.shape:
        raise ValueError(f"tie_break must have the weights' shape {weights.shape}, got {keys.shape}")
    none = list(ops).index("none") if "none" in ops else None
    masked = weights.copy()
    if none is not None:
        masked[:, none] = -np.inf
    pairs: list[Pair] = []
    start = 0
    for node in range(NUM_NODES):
        n_in = node + NUM_INPUTS
        block, key = masked[start:start + n_in], keys[start:start + n_in]
        best = [max(range(len(ops)), key=lambda k: (block[j, k], key[j, k], -k)) for j in range(n_in)]
        # Strongest first; ties by tie_break, then by the lower input index.
        rank = sorted(range(n_in), key=lambda j: (-block[j, best[j]], -key[j, best[j]], j))
        pairs.extend((ops[best[j]], j) for j in rank[:2])
        start += n_in
    return tuple(pairs)


def derive_genotype(normal_weights: np.ndarray, reduce_weights: np.ndarray,
                    genotype_cls: type[DartsGenotype] = DartsGenotype) -> DartsGenotype:
    ops = genotype_cls.OPS
    concat = tuple(range(NUM_INPUTS, NUM_INPUTS + NUM_NODES))
    return genotype_cls(normal=derive_cell(normal_weights, ops), reduce=derive_cell(reduce_weights, ops),
                        normal_concat=concat, reduce_concat=concat)


def edge_index(node: int, source: int) -> int:
    """Index in ``EDGES`` of the edge from state ``source`` to node ``node``."""
    return EDGES.index((node, source))
