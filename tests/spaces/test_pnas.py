"""PNAS block-cell space: the paper's expansion counts, symmetry, genotype JSON, child network."""
import json

import numpy as np
import pytest

import tfnas  # noqa: F401
from tfnas.spaces import base, pnas


@pytest.mark.parametrize("b", [1, 2, 3, 4, 5])
def test_expansion_enumerates_exactly_the_papers_block_choices(b):
    choices = pnas.block_choices(b)
    assert len(choices) == (b + 1) ** 2 * 8 ** 2 == pnas.num_block_choices(b)
    assert len(set(choices)) == len(choices)
    assert {c[0] for c in choices} == set(range(b + 1)) == {c[2] for c in choices}
    assert {c[1] for c in choices} == set(pnas.OPS)
    # without symmetric twins (in1, op1, in2, op2) == (in2, op2, in1, op1): P(P+1)/2 with P = 8(b+1)
    unique = pnas.block_choices(b, unique=True)
    p = 8 * (b + 1)
    assert len(unique) == p * (p + 1) // 2 == pnas.num_block_choices(b, unique=True)
    assert {pnas.canonical_block(c) for c in choices} == set(unique)


def test_expanding_a_cell_adds_every_next_block():
    cell = pnas.PnasGenotype(((1, "sep_conv_3x3", 0, "identity"), (2, "max_pool_3x3", 1, "sep_conv_5x5")))
    children = cell.expand(unique=False)
    assert len(children) == 4 ** 2 * 64
    assert all(c.blocks[:2] == cell.blocks and c.num_blocks == 3 for c in children)
    assert len(cell.expand()) == 528 == len({c.key() for c in children})
    assert len(pnas.all_one_block_cells()) == 136  # the 1-block cells PNAS trains first


def test_symmetric_blocks_are_one_genotype():
    a = pnas.PnasGenotype(((1, "sep_conv_3x3", 0, "identity"),))
    b = pnas.PnasGenotype(((0, "identity", 1, "sep_conv_3x3"),))
    assert a == b and a.key() == b.key()


def test_genotype_json_round_trip_through_the_registry(tmp_path):
    cell = pnas.PnasGenotype(((1, "sep_conv_7x7", 0, "avg_pool_3x3"), (2, "dil_conv_3x3", 0, "conv_1x7_7x1")))
    path = str(tmp_path / "genotype.json")
    base.save_genotype(cell, path)
    assert json.load(open(path))["space"] == "pnas"
    assert base.load_genotype(path, expected_space="pnas") == cell
    assert "pnas" in base.known_spaces()


@pytest.mark.parametrize("blocks, message", [
    ([[0, "conv_9x9", 1, "identity"]], "unknown PNAS op 'conv_9x9'"),
    ([[0, "identity", 2, "identity"]], "block 0 cannot read input 2"),
    ([[0, "identity", 1]], "must be \\[input1, op1, input2, op2\\]"),
    ([], "at least one block"),
])
def test_bad_genotypes_are_clear_errors(blocks, message):
    with pytest.raises(base.GenotypeError, match=message):
        base.genotype_from_json({"space": "pnas", "version": 1, "blocks": blocks})


def test_fixed_size_space_round_trip():
    space = pnas.fixed_size_space(3)
    assert len(space.choices) == 12
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        cell = pnas.to_genotype(arch)
        assert cell.num_blocks == 3
        assert pnas.to_genotype(cell.to_arch()) == cell


def test_cell_output_is_every_block_as_in_pnasnet5_or_the_unused_ones_under_nasnets_rule():
    cell = pnas.PnasGenotype(((0, "identity", 1, "identity"), (2, "identity", 1, "identity"),
                              (0, "identity", 0, "max_pool_3x3")))
    assert cell.unused_blocks() == [1, 2]
    assert cell.output_blocks() == [0, 1, 2]  # PNASNet-5 concatenates block 0 although block 1 reads it
    assert cell.output_blocks("unused_blocks") == [1, 2]
    with pytest.raises(base.GenotypeError, match="unknown PNAS cell output 'last'"):
        cell.output_blocks("last")


def test_child_network_stem_stages_and_reductions():
    import tensorflow as tf
    cell = pnas.PnasGenotype(((1, "sep_conv_3x3", 0, "identity"), (2, "conv_1x7_7x1", 0, "dil_conv_3x3"),
                              (1, "max_pool_3x3", 1, "avg_pool_3x3")))
    model = pnas.build_network(cell, num_classes=10, input_shape=(32, 32, 3), cells_per_stage=1, filters=8)
    out = model(np.zeros((2, 32, 32, 3), np.float32), training=False)
    assert out.shape == (2, 10)
    # 3 stages of N=1 cell + 2 reduction cells; spatial size halves and filters double per reduction
    adds = [l for l in model.layers if isinstance(l, tf.keras.layers.Add)]
    assert len(adds) == 5 * 3
    concat_shapes = [l.output.shape for l in model.layers if isinstance(l, tf.keras.layers.Concatenate)]
    # every cell concatenates its 3 blocks (PNASNet-5): 3 x filters channels
    assert [s[1:] for s in concat_shapes] == [(32, 32, 24), (16, 16, 48), (16, 16, 48), (8, 8, 96), (8, 8, 96)]
    bigger = pnas.build_network(cell, 10, (32, 32, 3), cells_per_stage=2, filters=16)
    assert bigger.count_params() > 2 * model.count_params()
    # NASNet's rule: block 0 is read by block 1, so only blocks 1 and 2 are concatenated
    nasnet_rule = pnas.build_network(cell, 10, (32, 32, 3), cells_per_stage=1, filters=8, cell_output="unused_blocks")
    concat_shapes = [l.output.shape for l in nasnet_rule.layers if isinstance(l, tf.keras.layers.Concatenate)]
    assert [s[1:] for s in concat_shapes] == [(32, 32, 16), (16, 16, 32), (16, 16, 32), (8, 8, 64), (8, 8, 64)]
    assert nasnet_rule(np.zeros((2, 32, 32, 3), np.float32), training=False).shape == (2, 10)
    with pytest.raises(base.GenotypeError, match="cell output"):
        pnas.build_network(cell, 10, (32, 32, 3), cell_output="nasnet")
