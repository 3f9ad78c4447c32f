"""The network a MANAS genotype builds: DARTS' evaluation network with every cell its own genotype.

Stem, cells, auxiliary head, drop-path and classifier are DARTS' (``build_darts_network``); cell i
is built from the genotype's i-th cell entry. The genotype fixes the depth (one entry per cell),
so the registered builder takes no other ``layers`` (``binaries.train --layers`` is refused with
one clear error); the width (``init_channels``, recipe default 36) is free.
"""
from __future__ import annotations

from tfnas.spaces import manas
from tfnas.spaces.darts_network import build_darts_network
from tfnas.spaces.networks import register_network


def manas_builder(genotype: manas.ManasGenotype, num_classes, input_shape, *, layers=None, init_channels,
                  auxiliary=False, drop_path_rate=None, generator=None, stem="auto", affine=True, **unused):
    """The registered builder (``stem="auto"``: ImageNet stem from 128 px up, else CIFAR's)."""
    if layers is not None and layers != genotype.layers:
        raise ValueError(f"a {genotype.layers}-cell MANAS genotype cannot build a {layers}-cell network")
    if stem == "auto":
        stem = "imagenet" if input_shape[0] >= 128 else "cifar"
    cells = [genotype.cell_genotype(i) for i in range(genotype.layers)]
    return build_darts_network(cells, num_classes, input_shape, init_channels, genotype.layers, auxiliary, stem,
                               drop_path_rate, generator, name="manas", affine=affine)


register_network(manas.SPACE, manas_builder, eval_defaults={"init_channels": 36}, auxiliary=True, drop_path=True,
                 depth=lambda genotype: genotype.layers)
"""Evaluation recipe: DARTS' CIFAR-10 network at the searched depth, 36 channels."""
