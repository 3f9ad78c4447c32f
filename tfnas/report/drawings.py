"""Genotypes drawn as graphs, with Pillow: what a found cell or network is.

``draw_genotype(genotype_json)`` returns PNG bytes for every space tfnas writes: DARTS-family
cells (normal and reduction; BATS and per-cell MANAS genotypes too), the NAS-Bench-201 cell, a
PNAS cell of blocks, HURRICANE's layer-wise network; anything else is drawn as its JSON text.
The same drawing goes into the HTML report and, each epoch the genotype changes, into TensorBoard.

Drawn through matplotlib a genotype took 0.06-0.42 s (a DARTS pair of cells 0.33 s: ~40
annotations laid out one by one), plus pyplot's first import, several percent of a tiny search's
run; drawn here at twice the size and halved (smooth lines and circles) it takes 0.01-0.06 s.
Fonts and colours are matplotlib's (tfnas/report/canvas.py).
"""
from __future__ import annotations

import json
import math
from typing import Any, Sequence

from tfnas.report import canvas

Node = tuple[str, float, float]  # name, x, y (layout units, y up)
Edge = tuple[str, str, str]  # source, target, label

PARAMETER_FREE = ("none", "skip_connect", "identity", "max_pool_3x3", "avg_pool_3x3")
SUPERSAMPLE = 2  # drawn at twice the size, then halved: anti-aliased lines and circles
UNIT = 100  # pixels per layout unit
NODE_RADIUS = 17
MARGIN = 18
FONT_SIZE, TITLE_SIZE = 10, 12
BEND = 0.08  # an edge's curvature (the control point's offset over the edge's length), so crossing edges part
LABEL_AT = 0.58  # where along an edge its op's name sits (not at the middle, where two edges of a node cross)
PARAMETRIC_EDGE, FREE_EDGE = (31, 95, 168), (153, 153, 153)
PARAMETRIC_LABEL, FREE_LABEL = (11, 61, 117), (85, 85, 85)
INPUT_NODE, INNER_NODE, OUTLINE = (243, 200, 107), (158, 202, 225), (51, 51, 51)


def _bezier(p0, p1, t: float) -> tuple[float, float]:
    """The point at ``t`` of the quadratic curve from p0 to p1 bent sideways by BEND (matplotlib's arc3)."""
    (x0, y0), (x1, y1) = p0, p1
    cx, cy = (x0 + x1) / 2 + BEND * (y1 - y0), (y0 + y1) / 2 - BEND * (x1 - x0)
    a, b, c = (1 - t) ** 2, 2 * t * (1 - t), t ** 2
    return a * x0 + b * cx + c * x1, a * y0 + b * cy + c * y1


def _dag(nodes: Sequence[Node], edges: Sequence[Edge], title: str):
    """Nodes as labelled circles, edges as arrows with the op's name on them (parameter-free ops grey):
    a Pillow image at its final size."""
    from PIL import Image, ImageDraw

    s = SUPERSAMPLE
    font, title_font = canvas.font(FONT_SIZE * s), canvas.font(TITLE_SIZE * s)
    title_w, title_h = canvas.text_size(title, title_font)
    xs, ys = [x for _, x, _ in nodes], [y for _, _, y in nodes]
    border = (MARGIN + NODE_RADIUS) * s
    top = border + title_h + 6 * s
    width = max(int((max(xs) - min(xs)) * UNIT * s) + 2 * border, title_w + 2 * MARGIN * s)
    height = int((max(ys) - min(ys)) * UNIT * s) + top + border

    def pixel(x: float, y: float) -> tuple[float, float]:
        return (x - min(xs)) * UNIT * s + (width - (max(xs) - min(xs)) * UNIT * s) / 2, (max(ys) - y) * UNIT * s + top

    where = {name: pixel(x, y) for name, x, y in nodes}
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    labels = []
    for src, dst, label in edges:
        p0, p1 = where[src], where[dst]
        length = max(math.dist(p0, p1), 1.0)
        gap = (NODE_RADIUS + 2) * s / length  # the curve starts and ends at the circles
        free = label in PARAMETER_FREE
        colour = FREE_EDGE if free else PARAMETRIC_EDGE
        points = [_bezier(p0, p1, gap + (1 - 2 * gap) * i / 24) for i in range(25)]
        (xa, ya), (xb, yb) = points[-2], points[-1]
        angle = math.atan2(yb - ya, xb - xa)
        head, half = 10 * s, 4 * s
        base = (xb - head * math.cos(angle), yb - head * math.sin(angle))
        draw.line(points[:-1] + [base], fill=colour, width=int(1.5 * s), joint="curve")
        draw.polygon([(xb, yb), (base[0] - half * math.sin(angle), base[1] + half * math.cos(angle)),
                      (base[0] + half * math.sin(angle), base[1] - half * math.cos(angle))], fill=colour)
        if label:
            labels.append((p0[0] + LABEL_AT * (p1[0] - p0[0]), p0[1] + LABEL_AT * (p1[1] - p0[1]), label, free))
    for x, y, label, free in labels:  # over every edge, on a white patch
        w, h = canvas.text_size(label, font)
        draw.rounded_rectangle((x - w / 2 - 3 * s, y - h / 2 - 3 * s, x + w / 2 + 3 * s, y + h / 2 + 3 * s),
                               radius=3 * s, fill="white")
        draw.text((x, y), label, fill=FREE_LABEL if free else PARAMETRIC_LABEL, font=font, anchor="mm")
    r = NODE_RADIUS * s
    for name, _, _ in nodes:
        x, y = where[name]
        fill = INPUT_NODE if name.startswith(("k", "h", "in", "out")) else INNER_NODE
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill, outline=OUTLINE, width=s)
        draw.text((x, y), name, fill=(0, 0, 0), font=font, anchor="mm")
    draw.text((width / 2, MARGIN * s / 2), title, fill=(0, 0, 0), font=title_font, anchor="mt")
    return image.reduce(s)  # the mean of each s x s block: anti-aliased


def darts_cell(pairs: Sequence[Sequence[Any]], concat: Sequence[int], title: str):
    """A DARTS cell: inputs k-2 and k-1 (the two previous cells), nodes 0..3 each with two (op, input) edges,
    the output concatenating the nodes (a Pillow image)."""
    names = ["k-2", "k-1"] + [str(i) for i in range(len(pairs) // 2)]
    nodes: list[Node] = [(names[0], 0.0, 1.6), (names[1], 0.0, -1.6)]
    nodes += [(names[2 + i], 1.3 * (1 + i), (-1) ** i * 1.0) for i in range(len(pairs) // 2)]
    nodes.append(("out", 1.3 * (1 + len(pairs) // 2), 0.0))
    edges: list[Edge] = [(names[int(src)], names[2 + k // 2], str(op)) for k, (op, src) in enumerate(pairs)]
    edges += [(names[int(i)], "out", "") for i in concat]
    return _dag(nodes, edges, title)


def _grid(panels: Sequence[Any], columns: int = 2):
    """Panels (Pillow images) side by side, ``columns`` to a row."""
    from PIL import Image

    columns = min(columns, len(panels))
    w, h = max(p.size[0] for p in panels), max(p.size[1] for p in panels)
    rows = -(-len(panels) // columns)
    image = Image.new("RGB", (w * columns, h * rows), "white")
    for i, panel in enumerate(panels):
        image.paste(panel, ((i % columns) * w + (w - panel.size[0]) // 2, (i // columns) * h))
    return image


def _darts_family(genotype: dict[str, Any]) -> bytes:
    cells = genotype.get("cells")
    if cells:  # one cell per position (MANAS): draw each
        panels = [(c.get("normal") or c.get("pairs"), c.get("concat", [2, 3, 4, 5]),
                   f"cell {i}" + (" (reduction)" if c.get("reduction") else "")) for i, c in enumerate(cells)]
    else:
        panels = [(genotype["normal"], genotype.get("normal_concat", [2, 3, 4, 5]), "normal cell"),
                  (genotype["reduce"], genotype.get("reduce_concat", [2, 3, 4, 5]), "reduction cell")]
    return canvas.png_bytes(_grid([darts_cell(pairs, concat, f"{genotype['space']}: {title}")
                                   for pairs, concat, title in panels]))


def _nasbench201(genotype: dict[str, Any]) -> bytes:
    ops = genotype["ops"] if "ops" in genotype else genotype["arch"]
    if isinstance(ops, str):
        from tfnas.spaces.nasbench201 import NasBench201Genotype

        ops = NasBench201Genotype.from_arch_string(ops).ops
    from tfnas.spaces.nasbench201 import EDGES

    nodes = [("in", 0.0, 0.0), ("1", 1.0, 0.8), ("2", 2.0, -0.8), ("out", 3.0, 0.0)]
    names = ["in", "1", "2", "out"]
    edges = [(names[s], names[t], op) for (t, s), op in zip(EDGES, ops) if op != "none"]
    return canvas.png_bytes(_dag(nodes, edges, "nasbench201 cell (none edges omitted)"))


def _pnas(genotype: dict[str, Any]) -> bytes:
    blocks = genotype["blocks"]
    names = ["h-2", "h-1"] + [f"b{j}" for j in range(len(blocks))]
    nodes: list[Node] = [(names[0], 0.0, 0.9), (names[1], 0.0, -0.9)]
    nodes += [(names[2 + j], 1.2 * (j + 1), (-1) ** j * 0.5) for j in range(len(blocks))]
    nodes.append(("out", 1.2 * (len(blocks) + 1), 0.0))
    edges: list[Edge] = []
    for j, (in1, op1, in2, op2) in enumerate(blocks):
        edges += [(names[int(in1)], names[2 + j], op1), (names[int(in2)], names[2 + j], op2)]
    concat = genotype.get("concat") or list(range(len(blocks)))
    edges += [(names[2 + j], "out", "") for j in concat]
    return canvas.png_bytes(_dag(nodes, edges, "pnas cell (blocks add their two inputs)"))


ROW_HEIGHT, ROW_WIDTH = 22, 620  # a layer-wise network's row per layer


def _layerwise(genotype: dict[str, Any]) -> bytes:
    """A layer-wise network (HURRICANE): one coloured box per searchable layer (a colour per op family),
    its op written in it."""
    from PIL import Image, ImageDraw

    ops = [str(op) for op in genotype["ops"]]
    family = [op.split("_k")[0].split("_e")[0] for op in ops]
    families = sorted(set(family))
    colours = canvas.qualitative_colours("tab10")
    extra = f" at {genotype.get('resolution')} px, width x{genotype.get('width_multiplier')}" \
        if "resolution" in genotype else ""
    title = f"{genotype['space']} network{extra}"
    font, mono = canvas.font(TITLE_SIZE), canvas.font(FONT_SIZE, mono=True)
    title_w, title_h = canvas.text_size(title, font)
    top = MARGIN + title_h + 8
    width = max(ROW_WIDTH, title_w) + 2 * MARGIN
    image = Image.new("RGB", (width, top + ROW_HEIGHT * len(ops) + MARGIN), "white")
    draw = ImageDraw.Draw(image)
    draw.text((width / 2, MARGIN), title, fill=(0, 0, 0), font=font, anchor="mt")
    for i, op in enumerate(ops):
        rgb = colours[families.index(family[i]) % len(colours)]
        light = tuple(int(0.55 * c + 0.45 * 255) for c in rgb)  # the family's colour, light enough to read on
        y = top + i * ROW_HEIGHT
        draw.rectangle((MARGIN, y, width - MARGIN, y + ROW_HEIGHT), fill=light, outline=OUTLINE)
        draw.text((MARGIN + 8, y + ROW_HEIGHT / 2), f"layer {i:2d}: {op}", fill=(0, 0, 0), font=mono, anchor="lm")
    return canvas.png_bytes(image)


TEXT_LINES = 60


def _text(genotype: Any) -> bytes:
    """Any other genotype: its JSON (the first TEXT_LINES lines, at most 3,000 characters)."""
    from PIL import Image, ImageDraw

    lines = json.dumps(genotype, indent=1)[:3000].split("\n")[:TEXT_LINES]
    font = canvas.font(FONT_SIZE, mono=True)
    line_h = canvas.text_size("Ag", font)[1] + 4
    width = max(canvas.text_size(line, font)[0] for line in lines) + 2 * MARGIN
    image = Image.new("RGB", (max(width, 200), line_h * len(lines) + 2 * MARGIN), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + i * line_h), line, fill=(0, 0, 0), font=font)
    return canvas.png_bytes(image)


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
