"""NAS-Bench-201 cell space: 4 nodes, 6 edges, 5 ops, 15,625 cells.

The genotype is one op per edge. It converts to and from the benchmark's architecture string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (node 1 | node 2 | node 3, each ``op~source``), so a
searched cell can be looked up in the tabular benchmark (../shared/benchdata/nasbench201.csv).
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Any, ClassVar, Iterator, Sequence

import numpy as np

from tfnas.spaces.base import GenotypeError, register_genotype

SPACE = "nasbench201"
VERSION = 1
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_NODES = 4  # node 0 is the cell input, nodes 1..3 are computed
EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(1, NUM_NODES) for j in range(i))
"""(target, source) per edge, in arch-string order: (1,0), (2,0), (2,1), (3,0), (3,1), (3,2)."""
NUM_EDGES = len(EDGES)
NUM_CELLS = len(OPS) ** NUM_EDGES


@dataclasses.dataclass(frozen=True)
class NasBench201Genotype:
    """One op name per edge, in ``EDGES`` order."""

    ops: tuple[str, ...]
    SPACE: ClassVar[str] = SPACE
    VERSION: ClassVar[int] = VERSION

    def __post_init__(self):
        ops = tuple(self.ops)
        object.__setattr__(self, "ops", ops)
        if len(ops) != NUM_EDGES:
            raise GenotypeError(f"a NAS-Bench-201 cell has {NUM_EDGES} edges, got {len(ops)} ops")
        for op in ops:
            if op not in OPS:
                raise GenotypeError(f"unknown NAS-Bench-201 op {op!r}; valid ops: {list(OPS)}")

    # --- arch string -------------------------------------------------------------------
    def to_arch_string(self) -> str:
        nodes = []
        for target in range(1, NUM_NODES):
            parts = [f"{self.ops[e]}~{src}" for e, (t, src) in enumerate(EDGES) if t == target]
            nodes.append("|" + "|".join(parts) + "|")
        return "+".join(nodes)

    @classmethod
    def from_arch_string(cls, arch: str) -> "NasBench201Genotype":
        if not isinstance(arch, str):
            raise GenotypeError(f"architecture string must be a str, got {type(arch).__name__}")
        nodes = arch.strip().split("+")
        if len(nodes) != NUM_NODES - 1:
            raise GenotypeError(
                f"malformed NAS-Bench-201 arch string {arch!r}: expected {NUM_NODES - 1} nodes "
                "separated by '+', like |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
            )
        ops: list[str] = []
        for target, node in enumerate(nodes, start=1):
            if not (node.startswith("|") and node.endswith("|")):
                raise GenotypeError(f"malformed node {node!r} in {arch!r}: each node is |op~source|...|")
            parts = node[1:-1].split("|")
            if len(parts) != target:
                raise GenotypeError(f"node {target} of {arch!r} must have {target} inputs, got {len(parts)}")
            for source, part in enumerate(parts):
                op, sep, src = part.partition("~")
                if not sep or src != str(source):
                    raise GenotypeError(f"malformed edge {part!r} in {arch!r}: expected '<op>~{source}'")
                if op not in OPS:
                    raise GenotypeError(f"unknown op {op!r} in {arch!r}; valid ops: {list(OPS)}")
                ops.append(op)
        return cls(tuple(ops))

    # --- integer / one-hot encodings -----------------------------------------------------
    def to_indices(self) -> tuple[int, ...]:
        return tuple(OPS.index(op) for op in self.ops)

    @classmethod
    def from_indices(cls, indices: Sequence[int]) -> "NasBench201Genotype":
        return cls(tuple(OPS[int(i)] for i in indices))

    def to_json(self) -> dict[str, Any]:
        return {"space": SPACE, "version": VERSION, "arch": self.to_arch_string(), "ops": list(self.ops)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "NasBench201Genotype":
        if int(data.get("version", VERSION)) != VERSION:
            raise GenotypeError(f"unsupported nasbench201 genotype version {data.get('version')}; this tfnas reads {VERSION}")
        if "arch" in data:
            geno = cls.from_arch_string(data["arch"])
            if "ops" in data and tuple(data["ops"]) != geno.ops:
                raise GenotypeError("'arch' and 'ops' disagree; keep one of them")
            return geno
        return cls(tuple(data["ops"]))

    def __str__(self) -> str:
        return self.to_arch_string()


register_genotype(SPACE, NasBench201Genotype.from_json)


def all_genotypes() -> Iterator[NasBench201Genotype]:
    """All 15,625 cells (including ones whose output is disconnected), in index-tuple order."""
    for indices in itertools.product(range(len(OPS)), repeat=NUM_EDGES):
        yield NasBench201Genotype.from_indices(indices)


def derive_genotype(weights: np.ndarray) -> NasBench201Genotype:
    """Strongest op per edge (argmax over all five ops, ``none`` included, as NAS-Bench-201's DARTS code does)."""
    weights = np.asarray(weights)
    if weights.shape != (NUM_EDGES, len(OPS)):
        raise ValueError(f"expected architecture weights of shape {(NUM_EDGES, len(OPS))}, got {weights.shape}")
    return NasBench201Genotype.from_indices(np.argmax(weights, axis=-1))
