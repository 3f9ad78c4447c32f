"""MANAS genotypes: one DARTS cell per network cell, JSON round trip, DARTS' derivation from the agents'
distributions with seeded tie-breaks, the path of a genotype, the depth it fixes, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from tfnas.spaces import darts, manas
from tfnas.spaces.base import GenotypeError, genotype_from_json, load_genotype, save_genotype

CELL = (("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_5x5", 2), ("max_pool_3x3", 0),
        ("sep_conv_5x5", 3), ("avg_pool_3x3", 1), ("dil_conv_3x3", 4), ("skip_connect", 0))


def test_space_has_one_agent_per_edge_of_every_cell_or_of_each_shared_cell_type():
    space = manas.manas_space(8)
    assert len(space.choices) == 112 and space.choices[0].options == darts.OPS
    assert space.names[0] == "cell0/n0<-s0" and space.names[-1] == "cell7/n3<-n2"
    shared = manas.manas_space(8, share_cells=True)
    assert len(shared.choices) == 28 and shared.names[14] == "reduce/n0<-s0"
    assert [manas.agent_offset(i, 8, True) for i in range(8)] == [0, 0, 14, 0, 0, 14, 0, 0]  # reductions at 2, 5
    assert [manas.agent_offset(i, 8, False) for i in (0, 7)] == [0, 98]


def test_genotype_round_trips_through_json_and_names_its_space(tmp_path):
    cells = tuple(CELL for _ in range(3))
    genotype = manas.ManasGenotype(cells)
    data = genotype.to_json()
    assert data["space"] == "manas" and data["version"] == 1 and data["layers"] == 3
    assert [c["reduction"] for c in data["cells"]] == [False, True, True]  # 3 // 3 = 1, 2 * 3 // 3 = 2
    path = str(tmp_path / "genotype.json")
    save_genotype(genotype, path)
    assert load_genotype(path) == genotype and genotype.ops.count("skip_connect") == 6
    assert genotype.cell_genotype(1).cell(True) == CELL


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["cells"][0]["pairs"].__setitem__(0, ["none", 0]), "'none' cannot be chosen"),
    (lambda d: d["cells"][1]["pairs"].__setitem__(2, ["sep_conv_3x3", 3]), "node 1 cannot read state 3"),
    (lambda d: d["cells"][0].__setitem__("reduction", True), "reduces at cells [2, 5]"),
    (lambda d: d.__setitem__("layers", 7), "'layers' says 7 cells but 8"),
])
def test_malformed_genotypes_fail_with_one_clear_message(mutate, message):
    data = manas.ManasGenotype(tuple(CELL for _ in range(8))).to_json()
    mutate(data)
    with pytest.raises(GenotypeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        genotype_from_json(data)


def test_a_manas_genotype_given_where_another_space_is_expected_is_refused():
    data = manas.ManasGenotype(tuple(CELL for _ in range(8))).to_json()
    with pytest.raises(GenotypeError, match="genotype is for space 'manas' but 'nasbench201' was asked for"):
        genotype_from_json(data, expected_space="nasbench201")


def test_derivation_is_darts_rule_on_every_cell_and_breaks_ties_from_the_seed():
    rng = np.random.default_rng(0)
    scores = rng.random((112, 8))
    genotype = manas.derive_genotype(scores, 8, rng=np.random.default_rng(1))
    for i in range(8):  # distinct scores: DARTS' own derivation, cell by cell
        assert genotype.cells[i] == darts.derive_cell(scores[14 * i:14 * (i + 1)])
    uniform = np.full((112, 8), 1 / 8)
    a = manas.derive_genotype(uniform, 8, rng=np.random.default_rng(5))
    b = manas.derive_genotype(uniform, 8, rng=np.random.default_rng(5))
    c = manas.derive_genotype(uniform, 8, rng=np.random.default_rng(6))
    assert a == b and a != c  # uniform agents: a random cell from the seed, not always the first ops
    assert len({op for op in a.ops}) > 3
    shared = manas.derive_genotype(scores[:28], 8, share_cells=True, rng=np.random.default_rng(1))
    assert isinstance(shared, darts.DartsGenotype)
    assert shared.reduce == darts.derive_cell(scores[14:28])


def test_path_of_a_genotype_puts_its_ops_on_its_edges_and_none_elsewhere():
    genotype = manas.ManasGenotype(tuple(CELL for _ in range(3)))
    path = manas.path_of(genotype, 3, share_cells=False)
    assert path.shape == (42,)
    cell = path[14:28]
    for k, (op, src) in enumerate(CELL):
        assert darts.OPS[cell[darts.edge_index(k // 2, src)]] == op
    assert (np.asarray(darts.OPS)[cell] == "none").sum() == 14 - 8
    with pytest.raises(GenotypeError, match="needs a darts genotype"):
        manas.path_of(genotype, 3, share_cells=True)
    with pytest.raises(GenotypeError, match="has 3 cells, the supernet 8"):
        manas.path_of(genotype, 8, share_cells=False)


def test_the_network_registry_refuses_another_depth_for_a_manas_genotype():
    from tfnas.spaces.networks import DepthFixedByGenotype, network_builder

    builder = network_builder("manas")
    genotype = manas.ManasGenotype(tuple(CELL for _ in range(8)))
    assert builder.check_depth(genotype, None) == 8 == builder.check_depth(genotype, 8)
    with pytest.raises(DepthFixedByGenotype, match="fixes the depth at 8 cells.*--layers=20.*--layers=8"):
        builder.check_depth(genotype, 20)
    assert network_builder("darts").check_depth(darts.DartsGenotype(CELL, CELL), 20) == 20
