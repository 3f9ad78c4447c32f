"""The ViT space: conditional block choices, genotype JSON, analytic FLOPs, identity-probability tuning."""
from __future__ import annotations

import numpy as np
import pytest

from tfnas.spaces import base, vit

SPACE = vit.ViTSpace(vit.space_config("cpu_28"), input_channels=1, num_classes=10)


def _arch(seed: int = 0, p: float = 0.5):
    return SPACE.sample(np.random.default_rng(seed), p)


def test_genotype_round_trips_through_json_naming_space_and_version(tmp_path):
    genotype = SPACE.genotype(_arch(3))
    data = genotype.to_json()
    assert data["space"] == "vit" and data["version"] == vit.VERSION
    assert len(data["blocks"]) == SPACE.config.num_slots
    path = str(tmp_path / "genotype.json")
    base.save_genotype(genotype, path)
    assert base.load_genotype(path, expected_space="vit") == genotype
    assert SPACE.genotype(SPACE.arch(genotype)) == genotype


def test_identity_slots_make_their_block_choices_inactive():
    arch = _arch(4)
    slot = next(i for i in range(SPACE.config.num_slots) if arch[f"block{i:02d}_heads"] != vit.IDENTITY)
    arch[f"block{slot:02d}_heads"] = vit.IDENTITY
    other = dict(arch, **{f"block{slot:02d}_mlp_dim": SPACE.config.mlp_dims[-1],
                          f"block{slot:02d}_attention_dim": SPACE.config.attention_dims[-1]})
    assert SPACE.categorical.key(arch) == SPACE.categorical.key(other)
    assert SPACE.genotype(arch) == SPACE.genotype(other)
    assert SPACE.mflops(arch) == SPACE.mflops(other)


def test_analytic_flops_follow_the_definition_for_a_small_genotype():
    genotype = vit.ViTGenotype(28, 7, 32, (vit.BlockSpec(2, 16, 64), None, vit.BlockSpec(4, 48, 32)))
    tokens = 16 + 1
    macs = 28 * 28 * 1 * 32 + 32 * 10  # patch-embedding conv, classifier on the class token
    for a, m in ((16, 64), (48, 32)):
        macs += 3 * tokens * 32 * a + 2 * tokens * tokens * a + tokens * a * 32 + 2 * tokens * 32 * m
    assert genotype.mflops(1, 10) == pytest.approx(macs / 1e6)
    assert genotype.depth == 2


def test_vectorised_flops_agree_with_the_genotype():
    paths = SPACE.sample_paths(np.random.default_rng(5), 50, 0.3)
    flops = SPACE.path_mflops(paths)
    for path, f in zip(paths, flops):
        arch = SPACE.arch_from_path(path)
        assert SPACE.genotype(arch).mflops(1, 10) == pytest.approx(f)
        np.testing.assert_array_equal(SPACE.path(arch)[:2], path[:2])


def test_sampling_uses_the_identity_probability_and_its_probability_table():
    paths = SPACE.sample_paths(np.random.default_rng(6), 4000, 0.3)
    heads = paths[:, [SPACE.slot_columns(i)[0] for i in range(SPACE.config.num_slots)]]
    assert abs((heads == 0).mean() - 0.3) < 0.02
    rows = SPACE.path_probabilities(0.3)
    assert all(abs(sum(r) - 1) < 1e-9 for r in rows)
    assert rows[SPACE.slot_columns(0)[0]][0] == 0.3


def test_tuned_identity_probability_puts_the_mean_flops_inside_the_window():
    lo, hi = 0.8, 0.9  # below the mean at p=0.5: the tuning must raise p in steps of 0.01
    tuning = vit.tune_identity_probability(SPACE, lo, hi, samples=1000, seed=0)
    assert lo <= tuning.mean_mflops <= hi
    assert tuning.probability > 0.5 and tuning.trace[0][0] == 0.5
    steps = np.diff([p for p, _ in tuning.trace])
    np.testing.assert_allclose(steps, 0.01, atol=1e-9)
    check = SPACE.path_mflops(SPACE.sample_paths(np.random.default_rng(1), 20000, tuning.probability)).mean()
    assert lo - 0.05 <= check <= hi + 0.05  # a fresh sample at the tuned p lands at the window too
    assert vit.tune_identity_probability(SPACE, lo, hi, seed=0).probability == tuning.probability


def test_an_unreachable_window_names_the_reachable_range():
    lo, hi = SPACE.mflops_range()
    with pytest.raises(vit.FlopsWindowError, match=f"range from {lo:.4g} to {hi:.4g} MFLOPs"):
        vit.tune_identity_probability(SPACE, hi * 2, hi * 3)
    mean_hi = SPACE.mean_mflops(0.01)
    with pytest.raises(vit.FlopsWindowError, match="no identity probability"):
        vit.tune_identity_probability(SPACE, mean_hi * 1.5, mean_hi * 1.6)


def test_a_patch_size_that_does_not_divide_the_image_size_is_refused():
    with pytest.raises(vit.ViTSpaceError, match=r"patch size\(s\) \[5\] do not divide the image size 28"):
        vit.space_config("cpu_28", patch_sizes=(4, 5))
    with pytest.raises(base.GenotypeError, match="patch_size 5 does not divide image_size 28"):
        base.genotype_from_json({"space": "vit", "version": 1, "image_size": 28, "patch_size": 5, "embed_dim": 16,
                                 "blocks": [None]})
    with pytest.raises(vit.ViTSpaceError, match="unknown --space_config"):
        vit.space_config("nope")


def test_the_paper_config_is_one_name_away():
    config = vit.space_config("vitas_1g")
    assert config.image_size == 224 and config.patch_sizes == (14, 16, 32) and config.num_slots == 16
    assert config.head_options == (3, 6, 12, 16) and max(config.embed_dims) == 384
    space = vit.ViTSpace(config, 3, 1000)
    tuning = vit.tune_identity_probability(space, 900, 1000, samples=1000)
    assert 900 <= tuning.mean_mflops <= 1000


def test_operators_never_revive_a_block_with_identity_placeholders():
    rng = np.random.default_rng(7)
    parent = _arch(8, p=1.0)  # every slot identity: its widths are placeholders (the first options)
    widths = set()
    for _ in range(200):
        child = SPACE.mutate(parent, rng, 0.5)
        widths |= {child[f"block{i:02d}_mlp_dim"] for i in range(SPACE.config.num_slots)
                   if child[f"block{i:02d}_heads"] != vit.IDENTITY}
    assert len(widths) == len(SPACE.config.mlp_dims)
    full = _arch(9, p=0.0)
    for _ in range(50):
        child = SPACE.crossover(parent, full, rng)
        for i in range(SPACE.config.num_slots):
            if child[f"block{i:02d}_heads"] != vit.IDENTITY:
                assert child[f"block{i:02d}_mlp_dim"] == full[f"block{i:02d}_mlp_dim"]
                assert child[f"block{i:02d}_attention_dim"] == full[f"block{i:02d}_attention_dim"]
