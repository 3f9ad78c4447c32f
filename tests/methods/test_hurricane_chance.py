"""A HURRICANE stage whose supernet cannot rank architectures says so (tfnas.methods.hurricane)."""
from __future__ import annotations

import tfnas  # noqa: F401

from tfnas.methods.hurricane import StageResult, near_chance_warnings


def _stage(name: str, accuracy: float) -> StageResult:
    return StageResult(name, ("mbconv_k3_e1",) * 20, accuracy, 0.4, 1.0, 1.0, [])


def test_a_stage_whose_best_candidate_is_near_chance_is_named_with_the_fix():
    warnings = near_chance_warnings([_stage("stage1", 0.13), _stage("stage2", 0.91)], num_classes=10)
    assert len(warnings) == 1
    assert warnings[0].startswith("stage1: the best candidate scores 0.130") and "--epochs" in warnings[0]
    assert near_chance_warnings([_stage("spos", 0.21)], num_classes=10) == []
    assert len(near_chance_warnings([_stage("spos", 0.6)], num_classes=2)) == 1  # 2 classes: chance is 0.5
