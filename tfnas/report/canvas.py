"""What the Pillow-drawn pictures share (the heatmaps and the genotype drawings): fonts, text sizes,
matplotlib's colour maps and PNG encoding.

Searches draw these pictures every epoch, where matplotlib's layout engine cost more than the
training steps of a tiny run (docs/BENCHMARKS.md); drawn with Pillow they take milliseconds. The
fonts are the DejaVu faces matplotlib ships and the colours its colour maps, so they look like
the report's matplotlib charts.
"""
from __future__ import annotations

import functools
import io
import os

import numpy as np


@functools.lru_cache(maxsize=8)
def font(size: int, mono: bool = False):
    """DejaVu Sans (or Sans Mono) at ``size`` pixels; Pillow's own font if matplotlib's fonts are missing."""
    from PIL import ImageFont

    try:
        import matplotlib

        name = "DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf"
        return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name), size)
    except (ImportError, OSError):  # a matplotlib without its fonts: Pillow's own (scalable since Pillow 10.1)
        return ImageFont.load_default(size)


def text_size(text: str, font) -> tuple[int, int]:
    """(width, height) in pixels of one line of ``text`` drawn with ``font`` (no image needed)."""
    left, top, right, bottom = font.getbbox(text)
    return right - left, bottom - top


@functools.lru_cache(maxsize=4)
def colour_table(cmap: str) -> np.ndarray:
    """256 RGB entries of a matplotlib colour map (viridis, coolwarm), as uint8."""
    import matplotlib

    return (matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3] * 255 + 0.5).astype(np.uint8)


@functools.lru_cache(maxsize=2)
def qualitative_colours(cmap: str = "tab10") -> tuple[tuple[int, int, int], ...]:
    """The colours of a qualitative matplotlib colour map (tab10: ten), as RGB tuples."""
    import matplotlib

    return tuple(tuple(int(c * 255 + 0.5) for c in rgb[:3]) for rgb in matplotlib.colormaps[cmap].colors)


def png_bytes(image) -> bytes:
    """``image`` as PNG bytes (zlib level 3: these pictures are small, the default level is 3x slower)."""
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=3)
    return buf.getvalue()
