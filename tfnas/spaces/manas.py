"""MANAS space: the DARTS cell searched separately in every cell of the network (Carlucci et al.).

MANAS gives every edge of every cell its own agent: a search network of ``layers`` cells has
``layers x 14`` decisions over the 8 DARTS ops (112 at DARTS' 8-cell search depth), or, with
shared cells, DARTS' two (normal and reduce: 2 x 14). A MANAS genotype is a DARTS-family
genotype with one cell entry per cell, so it fixes the depth it was searched at (the paper
searches at the depth it evaluates: 8, 14 or 20 cells); reductions sit where DARTS puts them,
at ``layers // 3`` and ``2 * layers // 3``. Shared-cell searches give a plain DARTS genotype.

The recommendation (``derive_genotype``) turns every agent's distribution into a valid DARTS
cell with DARTS' own rule (``tfnas.spaces.darts.derive_cell``): per node, the two incoming edges
whose most probable non-``none`` op is the most probable, each with that op. ``none`` is never
chosen, and no edge is excluded beforehand (the paper does not say how its cells are derived;
docs/METHODS.md). No TensorFlow here.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Sequence

import numpy as np

from tfnas.spaces import darts
from tfnas.spaces.base import GenotypeError, register_genotype
from tfnas.spaces.choices import CategoricalSpace, Choice

SPACE = "manas"
VERSION = 1
OPS = darts.OPS
SHARED_CELL_TYPES = ("normal", "reduce")


def reduction_cells(layers: int) -> tuple[int, int]:
    """Indices of the two reduction cells of a ``layers``-cell DARTS network."""
    return layers // 3, 2 * layers // 3


def edge_name(edge: int) -> str:
    """``n<node><-<source>`` (sources s0, s1 are the cell inputs, n<k> the k-th node)."""
    node, src = darts.EDGES[edge]
    return f"n{node}<-{'s0' if src == 0 else 's1' if src == 1 else f'n{src - 2}'}"


def cell_groups(layers: int, share_cells: bool) -> list[str]:
    """Names of the cells that own agents: ``cell0``.. ``cell<L-1>``, or ``normal`` / ``reduce``."""
    return list(SHARED_CELL_TYPES) if share_cells else [f"cell{i}" for i in range(layers)]


def check_ops(ops: Sequence[str]) -> tuple[str, ...]:
    """A candidate-op vocabulary: distinct DARTS ops, at least one of them not ``none``."""
    ops = tuple(ops)
    unknown = [op for op in ops if op not in OPS]
    if unknown or len(set(ops)) != len(ops) or not [op for op in ops if op != "none"]:
        raise GenotypeError(f"candidate ops must be distinct DARTS ops with at least one that is not 'none' "
                            f"(from {list(OPS)}); got {list(ops)}")
    return ops


def manas_space(layers: int, share_cells: bool = False, ops: Sequence[str] = OPS) -> CategoricalSpace:
    """One choice (agent) per edge of every cell (or of each shared cell type), named ``<cell>/<edge>``,
    over ``ops`` (all 8 DARTS ops by default; a subset for ablations and small tests)."""
    if layers < 3:
        raise GenotypeError(f"a DARTS network needs at least 3 cells (two are reductions), got layers={layers}")
    ops = check_ops(ops)
    return CategoricalSpace([Choice(f"{group}/{edge_name(e)}", ops)
                             for group in cell_groups(layers, share_cells) for e in range(darts.NUM_EDGES)])


def agent_offset(cell: int, layers: int, share_cells: bool) -> int:
    """Index of the first agent of network cell ``cell`` (its 14 edges' agents follow)."""
    if share_cells:
        return darts.NUM_EDGES * int(cell in reduction_cells(layers))
    return darts.NUM_EDGES * cell


@dataclasses.dataclass(frozen=True)
class ManasGenotype:
    """One DARTS cell per network cell: ``cells[i]`` is 8 (op, input) pairs, 2 per node."""

    cells: tuple[tuple[darts.Pair, ...], ...]
    concats: tuple[tuple[int, ...], ...] = ()
    SPACE: ClassVar[str] = SPACE
    VERSION: ClassVar[int] = VERSION
    OPS: ClassVar[tuple[str, ...]] = OPS

    def __post_init__(self):
        if len(self.cells) < 3:
            raise GenotypeError(f"a MANAS genotype needs one cell per network cell (at least 3), got {len(self.cells)}")
        cells = tuple(darts._check_cell(pairs, f"cell {i}", self.OPS) for i, pairs in enumerate(self.cells))
        concats = self.concats or tuple((2, 3, 4, 5) for _ in cells)
        if len(concats) != len(cells):
            raise GenotypeError(f"{len(cells)} cells but {len(concats)} concat lists")
        concats = tuple(tuple(int(s) for s in c) for c in concats)
        for i, c in enumerate(concats):
            bad = [s for s in c if not 0 <= s < darts.NUM_NODES + darts.NUM_INPUTS]
            if bad or not c:
                raise GenotypeError(f"cell {i}: concat holds invalid states {bad or c}")
        object.__setattr__(self, "cells", cells)
        object.__setattr__(self, "concats", concats)

    @property
    def layers(self) -> int:
        return len(self.cells)

    @property
    def reductions(self) -> tuple[int, int]:
        return reduction_cells(self.layers)

    @property
    def ops(self) -> list[str]:
        """Every op the genotype chose, cell by cell (never ``none``)."""
        return [op for pairs in self.cells for op, _ in pairs]

    def cell_genotype(self, i: int) -> darts.DartsGenotype:
        """Cell ``i`` as a DARTS genotype whose normal and reduce cells are both that cell (what a DARTS
        network cell is built from)."""
        return darts.DartsGenotype(self.cells[i], self.cells[i], self.concats[i], self.concats[i])

    def to_json(self) -> dict[str, Any]:
        reductions = self.reductions
        return {"space": self.SPACE, "version": self.VERSION, "layers": self.layers,
                "cells": [{"reduction": i in reductions, "pairs": [list(p) for p in pairs], "concat": list(c)}
                          for i, (pairs, c) in enumerate(zip(self.cells, self.concats))]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ManasGenotype":
        if int(data.get("version", cls.VERSION)) != cls.VERSION:
            raise GenotypeError(f"unsupported {cls.SPACE} genotype version {data.get('version')}; "
                                f"this tfnas reads {cls.VERSION}")
        cells = data["cells"]
        if "layers" in data and int(data["layers"]) != len(cells):
            raise GenotypeError(f"'layers' says {data['layers']} cells but {len(cells)} cells are listed")
        reductions = reduction_cells(len(cells))
        for i, cell in enumerate(cells):
            if "reduction" in cell and bool(cell["reduction"]) != (i in reductions):
                raise GenotypeError(f"cell {i}: 'reduction' is {cell['reduction']}, but a {len(cells)}-cell network "
                                    f"reduces at cells {list(reductions)}")
        return cls(cells=tuple(tuple(tuple(p) for p in cell["pairs"]) for cell in cells),
                   concats=tuple(tuple(cell.get("concat", (2, 3, 4, 5))) for cell in cells))

    def __str__(self) -> str:
        return "ManasGenotype(" + ", ".join(f"cell{i}={list(p)}" for i, p in enumerate(self.cells)) + ")"


register_genotype(SPACE, ManasGenotype.from_json)


def derive_genotype(scores: np.ndarray, layers: int, share_cells: bool = False,
                    rng: np.random.Generator | None = None, ops: Sequence[str] = OPS) -> ManasGenotype | darts.DartsGenotype:
    """The searched architecture from per-agent op scores ([agents, len(ops)]: sampling probabilities,
    or a one-hot draw), cell by cell with DARTS' derivation; equal scores are broken at random from
    ``rng`` (a seeded generator: uniform agents give a random cell, not always the first ops). Shared
    cells give a DARTS genotype (normal, reduce), per-cell agents a MANAS genotype of ``layers`` cells."""
    groups = cell_groups(layers, share_cells)
    ops = check_ops(ops)
    scores = np.asarray(scores, np.float64)
    if scores.shape != (len(groups) * darts.NUM_EDGES, len(ops)):
        raise ValueError(f"expected scores of shape {(len(groups) * darts.NUM_EDGES, len(ops))}, got {scores.shape}")
    rng = rng if rng is not None else np.random.Generator(np.random.PCG64(0))
    ties = rng.random(scores.shape)
    cells = [darts.derive_cell(scores[g * darts.NUM_EDGES:(g + 1) * darts.NUM_EDGES], ops,
                               ties[g * darts.NUM_EDGES:(g + 1) * darts.NUM_EDGES]) for g in range(len(groups))]
    if share_cells:
        return darts.DartsGenotype(normal=cells[0], reduce=cells[1])
    return ManasGenotype(cells=tuple(cells))


def cell_pairs(genotype: ManasGenotype | darts.DartsGenotype, cell: int, layers: int) -> tuple[darts.Pair, ...]:
    """The (op, input) pairs network cell ``cell`` is built from, for either kind of genotype."""
    if isinstance(genotype, ManasGenotype):
        return genotype.cells[cell]
    return genotype.cell(cell in reduction_cells(layers))


def path_of(genotype: ManasGenotype | darts.DartsGenotype, layers: int, share_cells: bool,
            ops: Sequence[str] = OPS) -> np.ndarray:
    """The supernet path (one index into ``ops`` per agent) that computes ``genotype``: each pair's op on
    its edge, ``none`` on every other edge."""
    ops = check_ops(ops)
    if isinstance(genotype, ManasGenotype) == share_cells:
        kind = "shared-cell (DARTS)" if share_cells else "per-cell (MANAS)"
        raise GenotypeError(f"a {kind} supernet needs a {'darts' if share_cells else 'manas'} genotype, "
                            f"got a {genotype.SPACE} one")
    if isinstance(genotype, ManasGenotype) and genotype.layers != layers:
        raise GenotypeError(f"the genotype has {genotype.layers} cells, the supernet {layers}")
    missing = sorted({"none", *(op for cell in range(layers) for op, _ in cell_pairs(genotype, cell, layers))} - set(ops))
    if missing:
        raise GenotypeError(f"the genotype's path needs ops {missing}, which these candidates {list(ops)} lack")
    groups = cell_groups(layers, share_cells)
    path = np.full(len(groups) * darts.NUM_EDGES, ops.index("none"), np.int32)
    for cell in (range(layers) if not share_cells else (0, reduction_cells(layers)[0])):
        offset = agent_offset(cell, layers, share_cells)
        pairs = cell_pairs(genotype, cell, layers)
        for k, (op, src) in enumerate(pairs):
            edge = darts.edge_index(k // 2, src)
            if path[offset + edge] != ops.index("none"):
                raise GenotypeError(f"cell {cell}: node {k // 2} reads input {src} twice; a path has one op per edge")
            path[offset + edge] = ops.index(op)
    return path


__all__ = ["ManasGenotype", "OPS", "SPACE", "VERSION", "agent_offset", "cell_groups", "cell_pairs", "check_ops",
           "derive_genotype", "edge_name", "manas_space", "path_of", "reduction_cells"]
