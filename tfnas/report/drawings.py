"""Genotypes drawn as graphs (matplotlib, no system dependency): what a found cell or network is.

``draw_genotype(genotype_json)`` returns PNG bytes for every space tfnas writes: DARTS-family
cells (normal and reduction; BATS and per-cell MANAS genotypes too), the NAS-Bench-201 cell, a
PNAS cell of blocks, HURRICANE's layer-wise network; anything else is drawn as its JSON text.
The same drawing goes into the HTML report and, each epoch, into TensorBoard.
"""
from __future__ import annotations

import io
import json
from typing import Any, Sequence

Node = tuple[str, float, float]  # name, x, y
Edge = tuple[str, str, str]  # source, target, label

PARAMETER_FREE = ("none", "skip_connect", "identity", "max_pool_3x3", "avg_pool_3x3")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _plt().close(fig)
    return buf.getvalue()


def _draw_dag(ax, nodes: Sequence[Node], edges: Sequence[Edge], title: str) -> None:
    """Nodes as labelled circles, edges as arrows with the op's name halfway (parameter-free ops grey)."""
    pos = {name: (x, y) for name, x, y in nodes}
    for src, dst, label in edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        free = label in PARAMETER_FREE
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color="#999999" if free else "#1f5fa8", lw=1.4,
                                    shrinkA=14, shrinkB=14, connectionstyle="arc3,rad=0.08"))
        ax.text(x0 + 0.58 * (x1 - x0), y0 + 0.58 * (y1 - y0), label, fontsize=7, ha="center", va="center",
                color="#555555" if free else "#0b3d75",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))
    for name, x, y in nodes:
        ax.scatter([x], [y], s=700, c="#f3c86b" if name.startswith(("k", "h", "in", "out")) else "#9ecae1",
                   edgecolors="#333333", zorder=3)
        ax.text(x, y, name, fontsize=7, ha="center", va="center", zorder=4)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    ax.margins(0.12)


def darts_cell(pairs: Sequence[Sequence[Any]], concat: Sequence[int], title: str, ax) -> None:
    """A DARTS cell: inputs k-2 and k-1 (the two previous cells), nodes 0..3 each with two (op, input) edges,
    the output concatenating the nodes."""
    names = ["k-2", "k-1"] + [str(i) for i in range(len(pairs) // 2)]
    nodes: list[Node] = [(names[0], 0.0, 1.6), (names[1], 0.0, -1.6)]
    nodes += [(names[2 + i], 1.3 * (1 + i), (-1) ** i * 1.0) for i in range(len(pairs) // 2)]
    nodes.append(("out", 1.3 * (1 + len(pairs) // 2), 0.0))
    edges: list[Edge] = [(names[int(src)], names[2 + k // 2], str(op)) for k, (op, src) in enumerate(pairs)]
    edges += [(names[int(i)], "out", "") for i in concat]
    _draw_dag(ax, nodes, edges, title)


def _darts_family(genotype: dict[str, Any]) -> bytes:
    plt = _plt()
    cells = genotype.get("cells")
    if cells:  # one cell per position (MANAS): draw each
        panels = [(c.get("normal") or c.get("pairs"), c.get("concat", [2, 3, 4, 5]),
                   f"cell {i}" + (" (reduction)" if c.get("reduction") else "")) for i, c in enumerate(cells)]
    else:
        panels = [(genotype["normal"], genotype.get("normal_concat", [2, 3, 4, 5]), "normal cell"),
                  (genotype["reduce"], genotype.get("reduce_concat", [2, 3, 4, 5]), "reduction cell")]
    cols = min(2, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 3.4 * rows), squeeze=False)
    for ax, (pairs, concat, title) in zip(axes.flat, panels):
        darts_cell(pairs, concat, f"{genotype['space']}: {title}", ax)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def _nasbench201(genotype: dict[str, Any]) -> bytes:
    ops = genotype["ops"] if "ops" in genotype else genotype["arch"]
    if isinstance(ops, str):
        from tfnas.spaces.nasbench201 import NasBench201Genotype

        ops = NasBench201Genotype.from_arch_string(ops).ops
    from tfnas.spaces.nasbench201 import EDGES

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    nodes = [("in", 0.0, 0.0), ("1", 1.0, 0.8), ("2", 2.0, -0.8), ("out", 3.0, 0.0)]
    names = ["in", "1", "2", "out"]
    edges = [(names[s], names[t], op) for (t, s), op in zip(EDGES, ops) if op != "none"]
    _draw_dag(ax, nodes, edges, "nasbench201 cell (none edges omitted)")
    return _png(fig)


def _pnas(genotype: dict[str, Any]) -> bytes:
    plt = _plt()
    blocks = genotype["blocks"]
    fig, ax = plt.subplots(figsize=(2.2 + 1.4 * len(blocks), 3.0))
    names = ["h-2", "h-1"] + [f"b{j}" for j in range(len(blocks))]
    nodes: list[Node] = [(names[0], 0.0, 0.9), (names[1], 0.0, -0.9)]
    nodes += [(names[2 + j], 1.2 * (j + 1), (-1) ** j * 0.5) for j in range(len(blocks))]
    nodes.append(("out", 1.2 * (len(blocks) + 1), 0.0))
    edges: list[Edge] = []
    for j, (in1, op1, in2, op2) in enumerate(blocks):
        edges += [(names[int(in1)], names[2 + j], op1), (names[int(in2)], names[2 + j], op2)]
    concat = genotype.get("concat") or list(range(len(blocks)))
    edges += [(names[2 + j], "out", "") for j in concat]
    _draw_dag(ax, nodes, edges, "pnas cell (blocks add their two inputs)")
    return _png(fig)


def _layerwise(genotype: dict[str, Any]) -> bytes:
    """A layer-wise network (HURRICANE): one coloured box per searchable layer, its op written in it."""
    plt = _plt()
    ops = list(genotype["ops"])
    families = sorted({op.split("_k")[0].split("_e")[0] for op in ops})
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(ops) + 0.9))
    for i, op in enumerate(ops):
        family = op.split("_k")[0].split("_e")[0]
        ax.barh(len(ops) - i, 1.0, color=colours(families.index(family) % 10), alpha=0.55, edgecolor="#333333")
        ax.text(0.02, len(ops) - i, f"layer {i:2d}: {op}", va="center", fontsize=7, family="monospace")
    ax.set_xlim(0, 1)
    ax.axis("off")
    extra = f" at {genotype.get('resolution')} px, width x{genotype.get('width_multiplier')}" \
        if "resolution" in genotype else ""
    ax.set_title(f"{genotype['space']} network{extra}", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _text(genotype: Any) -> bytes:
    plt = _plt()
    text = json.dumps(genotype, indent=1)[:3000]
    lines = text.count("\n") + 1
    fig, ax = plt.subplots(figsize=(7.0, 0.16 * min(lines, 60) + 0.6))
    ax.text(0.0, 1.0, text, fontsize=6, family="monospace", va="top")
    ax.axis("off")
    return _png(fig)


def draw_genotype(genotype: dict[str, Any]) -> bytes:
    """PNG of the genotype's cell or network (see the module docstring for what each space looks like)."""
    try:
        if "normal" in genotype or "cells" in genotype:
            return _darts_family(genotype)
        if genotype.get("space") == "nasbench201":
            return _nasbench201(genotype)
        if "blocks" in genotype and genotype.get("space") == "pnas":
            return _pnas(genotype)
        if isinstance(genotype.get("ops"), list):
            return _layerwise(genotype)
    except (KeyError, TypeError, ValueError, IndexError):
        pass  # an unexpected shape is still shown, as text
    return _text(genotype)
