"""Heatmap PNGs of a [rows, columns] matrix with every value printed, drawn directly with Pillow.

Searches write one such picture per cell type every epoch (the differentiable searches' op
weights, MANAS' agent distributions). Drawn through matplotlib, a 14 x 8 DARTS heatmap cost
0.36 s (Agg lays out and renders ~180 text objects one by one), which was a tenth of a tiny
search's run and more than its training steps; the same picture drawn here takes 0.01-0.04 s.
The colour maps are matplotlib's (viridis, coolwarm) and the font is the DejaVu Sans matplotlib
ships, so the pictures look like the report's other charts.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from tfnas.report import canvas

CELL_W, CELL_H = 64, 24  # pixels per heatmap cell
PAD = 8
FONT_SIZE = 11  # values, labels and title alike
LABEL_ANGLE = 35  # degrees: the column labels (op names) are long
BAR_W, BAR_GAP = 12, 10


def _rotated_label(text: str, font):
    """``text`` as a mask rotated counter-clockwise by LABEL_ANGLE (Pillow draws text horizontally only)."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(text)
    mask = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(mask).text((1 - left, 1 - top), text, fill=255, font=font)
    return mask.rotate(LABEL_ANGLE, resample=Image.BICUBIC, expand=True)


def _format(v: float) -> str:
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.3g}"


def heatmap_png(values: np.ndarray, rows: Sequence[str], columns: Sequence[str], title: str,
                marked: Sequence[int], diverging: bool = False) -> tuple[bytes, int, int]:
    """RGB PNG (bytes, height, width) of ``values`` [rows, columns] with every value printed and one cell
    per row outlined (``marked[i]``); NaN cells (padded options) are left blank.

    The colour scale spans the values themselves (op weights near uniform, 0.18-0.22, would all be
    one colour on a 0-1 scale); ``diverging`` centres it at 0. Used for MANAS' agent distributions and
    the differentiable searches' op weights.
    """
    from PIL import Image, ImageDraw

    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    if diverging:
        limit = max(float(np.abs(finite).max()) if finite.size else 0.0, 1e-9)
        vmin, vmax, cmap = -limit, limit, "coolwarm"
    else:
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if vmax - vmin < 1e-9:
            vmin, vmax = vmin - 1e-3, vmax + 1e-3
        cmap = "viridis"
    table = canvas.colour_table(cmap)
    font = canvas.font(FONT_SIZE)
    height, width = values.shape
    row_w = max((canvas.text_size(str(r), font)[0] for r in rows), default=0)
    labels = [_rotated_label(str(c), font) for c in columns]
    bar_labels = [_format(v) for v in (vmax, (vmin + vmax) / 2, vmin)]
    bar_label_w = max(canvas.text_size(t, font)[0] for t in bar_labels)
    title_w, title_h = canvas.text_size(title, font)

    label_h = max((m.size[1] for m in labels), default=0)
    # how far the longest rotated column label reaches left of the grid (it ends under its column's centre)
    overhang = max((m.size[0] - j * CELL_W - CELL_W // 2 for j, m in enumerate(labels)), default=0)
    grid_x, grid_y = PAD + max(row_w + 6, overhang), PAD + title_h + 8
    grid_w, grid_h = width * CELL_W, height * CELL_H
    bar_x = grid_x + grid_w + BAR_GAP
    image_w = max(bar_x + BAR_W + 4 + bar_label_w + PAD, PAD + title_w + PAD)
    image_h = grid_y + grid_h + 4 + label_h + PAD

    # cells: colour-mapped values, NaN left white
    scaled = np.clip((np.nan_to_num(values, nan=vmin) - vmin) / (vmax - vmin), 0.0, 1.0)
    colours = table[np.round(scaled * 255).astype(int)]
    pixels = np.full((image_h, image_w, 3), 255, np.uint8)
    cells = np.repeat(np.repeat(colours, CELL_H, axis=0), CELL_W, axis=1)
    blank = np.repeat(np.repeat(~np.isfinite(values), CELL_H, axis=0), CELL_W, axis=1)
    cells[blank] = 255
    pixels[grid_y:grid_y + grid_h, grid_x:grid_x + grid_w] = cells
    # colour bar: the whole map, top = vmax
    ramp = table[np.linspace(255, 0, grid_h).round().astype(int)]
    pixels[grid_y:grid_y + grid_h, bar_x:bar_x + BAR_W] = ramp[:, None, :]
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)

    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            r, g, b = colours[i, j] / 255.0
            ink = (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else (255, 255, 255)
            draw.text((grid_x + j * CELL_W + CELL_W / 2, grid_y + i * CELL_H + CELL_H / 2), _format(v),
                      fill=ink, font=font, anchor="mm")
    outline = (0, 0, 0) if diverging else (220, 20, 20)
    for i, j in enumerate(marked):
        x0, y0 = grid_x + j * CELL_W, grid_y + i * CELL_H
        draw.rectangle((x0 + 1, y0 + 1, x0 + CELL_W - 2, y0 + CELL_H - 2), outline=outline, width=3)
    draw.rectangle((grid_x - 1, grid_y - 1, grid_x + grid_w, grid_y + grid_h), outline=(0, 0, 0), width=1)
    draw.rectangle((bar_x - 1, grid_y - 1, bar_x + BAR_W, grid_y + grid_h), outline=(0, 0, 0), width=1)

    for i, name in enumerate(rows):
        draw.text((grid_x - 6, grid_y + i * CELL_H + CELL_H / 2), str(name), fill=(0, 0, 0), font=font,
                  anchor="rm")
    for j, mask in enumerate(labels):  # each label ends under its column's centre
        x_end, y_top = grid_x + j * CELL_W + CELL_W // 2, grid_y + grid_h + 4
        image.paste((0, 0, 0), (x_end - mask.size[0], y_top), mask)
    for k, text in enumerate(bar_labels):
        draw.text((bar_x + BAR_W + 4, grid_y + k * (grid_h - 1) / 2), text, fill=(0, 0, 0), font=font,
                  anchor="lt" if k == 0 else ("lm" if k == 1 else "lb"))
    draw.text((PAD, PAD), title, fill=(0, 0, 0), font=font, anchor="lt")

    return canvas.png_bytes(image), image_h, image_w
