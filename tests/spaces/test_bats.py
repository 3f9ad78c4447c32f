"""BATS genotypes and binary child networks: JSON, derivation, LCE width rule, float/binary routing."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from tfnas.ops import binary_ops
from tfnas.spaces import bats as bats_space
from tfnas.spaces import darts as darts_space
from tfnas.spaces import nasbench201 as nb201_space
from tfnas.spaces.base import GenotypeError, genotype_from_json, load_genotype, save_genotype
from tfnas.spaces.bats_binary_network import BinaryWidthError, lce_groups
from tfnas.training.child_networks import NoNetworkForGenotype, build_child

GENOTYPE = bats_space.BatsGenotype(
    normal=(("group_conv_3x3", 0), ("dil_group_conv_5x5", 1), ("skip_connect", 0), ("group_conv_5x5", 2),
            ("avg_pool_3x3", 1), ("dil_group_conv_3x3", 3), ("max_pool_3x3", 2), ("skip_connect", 4)),
    reduce=(("group_conv_3x3", 0), ("dil_group_conv_3x3", 1), ("skip_connect", 0), ("dil_group_conv_5x5", 2),
            ("max_pool_3x3", 1), ("group_conv_5x5", 3), ("avg_pool_3x3", 2), ("skip_connect", 1)))


def test_genotype_round_trip(tmp_path):
    path = str(tmp_path / "genotype.json")
    save_genotype(GENOTYPE, path)
    with open(path) as f:
        data = json.load(f)
    assert data["space"] == "bats"
    assert load_genotype(path) == GENOTYPE
    assert isinstance(genotype_from_json(data), bats_space.BatsGenotype)


def test_genotype_rejects_other_spaces_ops():
    data = GENOTYPE.to_json()
    data["normal"][0] = ["sep_conv_3x3", 0]  # a DARTS op is not a BATS op
    with pytest.raises(GenotypeError, match="unknown op 'sep_conv_3x3'"):
        genotype_from_json(data)
    with pytest.raises(GenotypeError, match="'bats' but 'darts' was asked"):
        genotype_from_json(GENOTYPE.to_json(), expected_space="darts")


def test_derivation_takes_strongest_non_none_ops():
    rng = np.random.RandomState(0)
    normal, reduce = rng.rand(14, 8), rng.rand(14, 8)
    normal[:, bats_space.OPS.index("none")] = 10.0  # 'none' never chosen
    normal[0, bats_space.OPS.index("group_conv_5x5")] = 5.0
    g = bats_space.derive_genotype(normal, reduce)
    assert isinstance(g, bats_space.BatsGenotype)
    assert g.normal[0] == ("group_conv_5x5", 0)
    assert all(op != "none" for op, _ in g.normal + g.reduce)


def _nodes(genotype) -> list[frozenset]:
    """Each node's two (op, input) pairs, in either order (derivation orders ties by input)."""
    pairs = genotype.normal + genotype.reduce
    return [frozenset(pairs[i:i + 2]) for i in range(0, len(pairs), 2)]


def test_derived_op_weights_select_exactly_the_genotype():
    """One op on each of the 8 chosen edges, 'none' on the 6 dropped ones; deriving from them gives
    the genotype back (so the supernet evaluated with them is the derived network)."""
    weights = bats_space.derived_op_weights(GENOTYPE)
    none = bats_space.OPS.index("none")
    for name in ("normal", "reduce"):
        w = weights[name]
        assert w.shape == (14, len(bats_space.OPS)) and (w.sum(axis=1) == 1).all() and set(np.unique(w)) == {0, 1}
        assert (w[:, none] == 0).sum() == 8
    assert _nodes(bats_space.derive_genotype(weights["normal"], weights["reduce"])) == _nodes(GENOTYPE)
    node1_edges = [darts_space.edge_index(1, s) for s in range(3)]  # node 1 reads inputs 0 and 2 in GENOTYPE
    assert weights["normal"][node1_edges, none].tolist() == [0, 1, 0]
    darts_genotype = darts_space.derive_genotype(np.random.RandomState(1).rand(14, 8), np.random.RandomState(2).rand(14, 8))
    dw = bats_space.derived_op_weights(darts_genotype)
    assert _nodes(darts_space.derive_genotype(dw["normal"], dw["reduce"])) == _nodes(darts_genotype)
    twice = GENOTYPE.to_json()
    twice["normal"][1] = ["group_conv_5x5", 0]  # node 0 reads input 0 twice
    with pytest.raises(ValueError, match="reads input 0 twice"):
        bats_space.derived_op_weights(genotype_from_json(twice))


def test_lce_group_rule():
    assert lce_groups(64) == 2 and lce_groups(96) == 3 and lce_groups(384) == 12 and lce_groups(32) == 1
    assert lce_groups(128, 4) == 4
    with pytest.raises(BinaryWidthError, match=r"16 input channels per group.*multiple of 32.*--groups in \[1, 2\]"):
        lce_groups(64, 4)
    with pytest.raises(BinaryWidthError, match="not a multiple of 32"):
        lce_groups(48)
    assert lce_groups(48, lce_compatible=False) == 12
    with pytest.raises(BinaryWidthError, match="does not divide"):
        lce_groups(64, 5)


def test_bats_network_structure():
    model = build_child(GENOTYPE, 10, (16, 16, 1), layers=3, init_channels=32, binary=True)
    assert model.output_shape == (None, 10)
    convs = binary_ops.binary_layers(model)
    # per cell: binary preprocessing 1x1 convs (pre0 is the real FactorizedReduce after a reduction)
    # plus one binary conv per grouped op of the cell's genotype
    expected = 0
    for i, reduction in enumerate([False, True, True]):
        pairs = GENOTYPE.cell(reduction)
        expected += (2 if i in (0, 1) else 1) + sum("group_conv" in op for op, _ in pairs)
    assert len(convs) == expected
    # first and last layers real-valued
    assert model.get_layer("stem_conv") not in convs and model.get_layer("classifier") not in convs
    grouped = [l for l in convs if l.kernel_size[0] > 1]
    assert grouped and all(l.groups == 1 for l in grouped)  # 32 channels: one group keeps 32 per group
    wide = build_child(GENOTYPE, 10, (16, 16, 1), layers=3, init_channels=64, binary=True)
    assert {l.groups for l in binary_ops.binary_layers(wide) if l.kernel_size[0] > 1} == {2}


def test_binary_genotype_for_the_float_space_is_refused():
    with pytest.raises(NoNetworkForGenotype, match="binary network.*--binary"):
        build_child(GENOTYPE, 10, (16, 16, 1), layers=3, init_channels=32)
    nb201 = nb201_space.NasBench201Genotype.from_arch_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    with pytest.raises(NoNetworkForGenotype, match="no binary network"):
        build_child(nb201, 10, (16, 16, 1), binary=True)


def test_naive_binary_darts_network_binarises_every_cell_conv():
    g = darts_space.DartsGenotype(normal=tuple((op.replace("group_conv", "sep_conv").replace("dil_sep", "dil"), i)
                                               for op, i in GENOTYPE.normal),
                                  reduce=tuple((op.replace("group_conv", "sep_conv").replace("dil_sep", "dil"), i)
                                               for op, i in GENOTYPE.reduce))
    model = build_child(g, 10, (16, 16, 1), layers=3, init_channels=8, binary=True)
    binary = {l.name for l in binary_ops.binary_layers(model)}
    cell_convs = {l.name for l in _all_layers(model) if isinstance(l, (tf.keras.layers.Conv2D,))
                  and l.name not in ("stem_conv",)}
    assert cell_convs and cell_convs <= binary


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, tf.keras.Model):
            yield from _all_layers(layer)
