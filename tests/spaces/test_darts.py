"""DARTS genotypes: derivation follows DARTS' rule, JSON round-trips, bad genotypes fail clearly."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tfnas.spaces import darts
from tfnas.spaces.base import GenotypeError, genotype_from_json, load_genotype, save_genotype


def _weights(choices: dict[tuple[int, int], tuple[str, float]], none_weight: float = 0.0) -> np.ndarray:
    w = np.full((darts.NUM_EDGES, len(darts.OPS)), 0.01)
    w[:, darts.OPS.index("none")] = none_weight
    for (node, src), (op, value) in choices.items():
        w[darts.edge_index(node, src), darts.OPS.index(op)] = value
    return w


def test_derivation_keeps_two_strongest_edges_per_node_and_ignores_none():
    choices = {
        (0, 0): ("sep_conv_3x3", 0.5), (0, 1): ("skip_connect", 0.4),
        (1, 2): ("dil_conv_5x5", 0.7), (1, 0): ("max_pool_3x3", 0.3), (1, 1): ("avg_pool_3x3", 0.2),
        (2, 3): ("sep_conv_5x5", 0.9), (2, 1): ("dil_conv_3x3", 0.8),
        (3, 4): ("skip_connect", 0.6), (3, 0): ("sep_conv_3x3", 0.55),
    }
    # 'none' dominates every edge, yet must never be chosen nor decide edge strength
    genotype = darts.derive_genotype(_weights(choices, none_weight=0.95), _weights(choices))
    assert genotype.normal == (
        ("sep_conv_3x3", 0), ("skip_connect", 1),
        ("dil_conv_5x5", 2), ("max_pool_3x3", 0),
        ("sep_conv_5x5", 3), ("dil_conv_3x3", 1),
        ("skip_connect", 4), ("sep_conv_3x3", 0),
    )
    assert genotype.reduce == genotype.normal


def test_json_round_trip_and_file(tmp_path):
    genotype = darts.derive_genotype(np.random.RandomState(0).rand(14, 8), np.random.RandomState(1).rand(14, 8))
    path = str(tmp_path / "genotype.json")
    save_genotype(genotype, path)
    assert json.load(open(path))["space"] == "darts"
    assert load_genotype(path, expected_space="darts") == genotype


@pytest.mark.parametrize("data, message", [
    ({"space": "darts", "normal": [["sep_conv_3x3", 0]] * 7, "reduce": [["sep_conv_3x3", 0]] * 8}, "8"),
    ({"space": "darts", "normal": [["conv_9x9", 0]] * 8, "reduce": [["sep_conv_3x3", 0]] * 8}, "unknown op"),
    ({"space": "darts", "normal": [["sep_conv_3x3", 5]] * 8, "reduce": [["sep_conv_3x3", 0]] * 8}, "cannot read"),
    ({"space": "darts", "normal": [["none", 0]] * 8, "reduce": [["sep_conv_3x3", 0]] * 8}, "none"),
    ({"space": "imaginary"}, "unknown space"),
    ({"normal": []}, "'space' field"),
])
def test_malformed_genotypes_are_refused_with_the_reason(data, message):
    with pytest.raises(GenotypeError, match=message):
        genotype_from_json(data)


def test_genotype_of_another_space_is_refused(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"space": "nasbench201", "arch": "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
                                "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"}))
    with pytest.raises(GenotypeError, match="'darts' was asked"):
        load_genotype(str(path), expected_space="darts")


def test_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "g.json"
    path.write_text("{not json")
    with pytest.raises(GenotypeError, match="not valid JSON"):
        load_genotype(str(path))
