"""The genotype drawings (tfnas/report/drawings.py) that TensorBoard and the HTML report show, for every space."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tfnas.report.drawings import FREE_EDGE, draw_genotype


def _genotypes() -> dict:
    from tfnas.spaces import bats, darts, hurricane, manas, pnas, vit
    from tfnas.spaces.nasbench201 import NasBench201Genotype

    cell = (("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1),
            ("skip_connect", 0), ("dil_conv_3x3", 2), ("max_pool_3x3", 0), ("sep_conv_5x5", 3))
    binary = tuple((bats.OPS[1 + i % (len(bats.OPS) - 1)], src) for i, (_, src) in enumerate(cell))
    return {
        "darts": darts.DartsGenotype(cell, cell),
        "bats": bats.BatsGenotype(binary, binary),
        "manas": manas.ManasGenotype((cell, cell, cell)),
        "nasbench201": NasBench201Genotype(("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none",
                                            "nor_conv_3x3")),
        "pnas": pnas.PnasGenotype(((0, pnas.OPS[0], 1, pnas.OPS[1]), (2, pnas.OPS[2], 0, pnas.OPS[3]))),
        "hurricane": hurricane.HurricaneGenotype(tuple(hurricane.OPS[i % len(hurricane.OPS)]
                                                       for i in range(hurricane.NUM_LAYERS)), 32, 0.25),
        "vit": vit.ViTGenotype(28, 7, 64, (vit.BlockSpec(2, 64, 128), None)),
    }


def _image(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    image.load()  # raises if the PNG does not decode
    return np.asarray(image.convert("RGB"))


def _blue_pixels(pixels: np.ndarray) -> int:
    """Pixels of a strong blue (what parametric edges and their labels are drawn in; nothing else is)."""
    rgb = pixels.astype(int)
    return int((rgb[..., 2] - rgb[..., 0] > 100).sum())


def _grey_pixels(pixels: np.ndarray) -> int:
    """Pixels of the parameter-free edges' grey (anti-aliased text and outlines hold a few too)."""
    return int((np.abs(pixels.astype(int) - np.array(FREE_EDGE)).max(axis=-1) <= 12).sum())


@pytest.mark.parametrize("space", sorted(_genotypes()))
def test_every_space_draws_a_picture_that_changes_with_the_genotype(space):
    genotype = _genotypes()[space].to_json()
    png = draw_genotype(genotype)
    pixels = _image(png)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 150
    assert (pixels < 128).any() and (pixels > 250).any()  # ink on a white page
    assert draw_genotype(genotype) == png  # the same genotype, the same picture (TensorBoard shows no churn)
    other = dict(genotype, space=f"{genotype['space']}-renamed")  # titles carry the space's name
    assert draw_genotype(other) != png


def test_parameter_free_edges_are_grey_and_parametric_ones_blue():
    from tfnas.spaces.nasbench201 import NasBench201Genotype

    free = _image(draw_genotype(NasBench201Genotype(("skip_connect",) * 6).to_json()))
    convs = _image(draw_genotype(NasBench201Genotype(("nor_conv_3x3",) * 6).to_json()))
    assert _blue_pixels(free) == 0 and _blue_pixels(convs) > 300
    assert _grey_pixels(free) > 3 * _grey_pixels(convs)


def test_a_malformed_genotype_is_still_shown_as_its_text():
    bad = {"space": "darts", "normal": [["sep_conv_3x3"]], "reduce": 7}
    pixels = _image(draw_genotype(bad))
    assert (pixels < 128).any()
    assert draw_genotype(bad) != draw_genotype({"space": "darts", "normal": [["sep_conv_5x5"]], "reduce": 7})
