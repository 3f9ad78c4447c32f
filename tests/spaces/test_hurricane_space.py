"""The HURRICANE space: backbone geometry, genotype JSON, child network, categorical choices."""
from __future__ import annotations

import json

import numpy as np
import pytest

import tfnas  # noqa: F401

from tfnas.search.api import SearchSpaceError
from tfnas.spaces import hurricane, hurricane_network
from tfnas.spaces.base import GenotypeError, genotype_from_json, load_genotype, save_genotype


def test_backbone_geometry_at_224_and_32():
    positions = hurricane.HurricaneConfig(224, 1.0).positions()
    assert len(positions) == 20
    assert [p.stride for p in positions] == [2, 1, 1, 1] * 2 + [2] + [1] * 7 + [2, 1, 1, 1]
    assert [p.out_channels for p in positions] == [64] * 4 + [160] * 4 + [320] * 8 + [640] * 4
    assert positions[0].in_shape == (112, 112, 16)
    assert positions[-1].out_shape == (7, 7, 640)
    small = hurricane.HurricaneConfig(32, 0.25, input_channels=1, num_classes=10)
    assert small.stem_channels == 8 and small.head_channels == 256
    assert [small.positions()[i].out_channels for i in (0, 4, 8, 16)] == [16, 40, 80, 160]
    assert small.positions()[-1].out_shape == (1, 1, 160)


def test_bad_geometry_is_refused():
    with pytest.raises(ValueError, match="multiple of 32"):
        hurricane.HurricaneConfig(100, 1.0)
    with pytest.raises(ValueError, match="width_multiplier"):
        hurricane.HurricaneConfig(32, 0.0)


def test_genotype_json_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    genotype = hurricane.random_genotype(rng, 32, 0.25)
    path = str(tmp_path / "genotype.json")
    save_genotype(genotype, path)
    data = json.loads(open(path).read())
    assert data["space"] == "hurricane" and data["version"] == 1 and data["resolution"] == 32
    assert load_genotype(path, expected_space="hurricane") == genotype
    assert genotype_from_json(genotype.to_json()) == genotype


def test_malformed_genotypes_are_clear_errors():
    good = hurricane.HurricaneGenotype(("mbconv_k3_e3",) * 20, 32, 0.25).to_json()
    with pytest.raises(GenotypeError, match="unknown op 'conv9x9'"):
        genotype_from_json({**good, "ops": ["conv9x9"] + good["ops"][1:]})
    with pytest.raises(GenotypeError, match="20 ops"):
        genotype_from_json({**good, "ops": good["ops"][:5]})
    with pytest.raises(GenotypeError, match="'hurricane'"):
        genotype_from_json(good, expected_space="darts")


def test_child_network_runs_and_follows_the_genotype():
    genotype = hurricane.HurricaneGenotype(("shufflenet_k3",) * 10 + ("mbconv_k5_e3_se",) * 10, 32, 0.25)
    model = hurricane_network.build_child(genotype, num_classes=10, input_channels=1)
    assert model.output_shape == (None, 10)
    assert model(np.zeros((2, 32, 32, 1), np.float32)).shape == (2, 10)
    assert model.get_layer("layer_00").op == "shufflenet_k3"
    assert model.get_layer("layer_19").op == "mbconv_k5_e3_se"


def test_categorical_space_and_arch_conversion():
    space = hurricane.categorical_space([["mbconv_k3_e1", "sep_conv_3x3"]] * 20)
    assert space.size == 2 ** 20
    arch = space.sample(np.random.default_rng(1))
    genotype = hurricane.arch_to_genotype(arch, 32, 0.5)
    assert hurricane.genotype_to_arch(genotype) == arch
    with pytest.raises(SearchSpaceError):
        space.validate({**arch, "layer_00": "mbconv_k7_e6"})
