"""NAS-Bench-201 genotypes: arch strings round-trip for every cell of the benchmark, bad strings fail clearly."""
from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from conftest import BENCHDATA
from tfnas.spaces import nasbench201 as nb
from tfnas.spaces.base import GenotypeError, genotype_from_json


def test_every_benchmark_arch_string_round_trips():
    path = os.path.join(BENCHDATA, "nasbench201.csv")
    with open(path) as f:
        archs = [row["arch"] for row in csv.DictReader(f)]
    assert len(archs) == nb.NUM_CELLS == 15625
    for arch in archs:
        genotype = nb.NasBench201Genotype.from_arch_string(arch)
        assert genotype.to_arch_string() == arch
        assert genotype_from_json(genotype.to_json()) == genotype
    assert len({nb.NasBench201Genotype.from_arch_string(a).to_indices() for a in archs}) == 15625


@pytest.mark.parametrize("bad", [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|",                       # two nodes
    "|conv_7x7~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",  # op
    "|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",  # source
    "nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",   # bars
])
def test_malformed_arch_strings_raise_clear_errors(bad):
    with pytest.raises(GenotypeError, match="arch string|node|op|edge"):
        nb.NasBench201Genotype.from_arch_string(bad)


def test_derivation_takes_the_strongest_op_per_edge():
    weights = np.full((6, 5), 0.1)
    expected = ["nor_conv_3x3", "skip_connect", "none", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3"]
    for e, op in enumerate(expected):
        weights[e, nb.OPS.index(op)] = 0.6
    assert list(nb.derive_genotype(weights).ops) == expected
