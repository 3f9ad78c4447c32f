"""The PNAS child network registered for training and export (``tfnas.spaces.pnas.build_network``).

``layers`` is the paper's N (cells per stage) and ``init_channels`` its F (filters of the first
stage). Evaluation sizes [U]: N=3, F=48, the CIFAR-10 PNASNet-5 setting as we read the paper's
Table 1 (not confirmed from the released code); searching uses N=2, F=24 (--pnas_cells/--pnas_filters).
"""
from __future__ import annotations

from tfnas.spaces import pnas
from tfnas.spaces.networks import register_network


def pnas_builder(genotype: pnas.PnasGenotype, num_classes: int, input_shape, *, layers: int, init_channels: int,
                 **unused):
    return pnas.build_network(genotype, num_classes, input_shape, cells_per_stage=layers, filters=init_channels)


register_network(pnas.SPACE, pnas_builder, eval_defaults={"layers": 3, "init_channels": 48})
