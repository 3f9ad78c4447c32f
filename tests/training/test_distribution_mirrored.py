"""One supernet train step under MirroredStrategy (2 virtual CPU devices) equals the one-device step.

The two logical devices must exist before TensorFlow initialises, which this pytest process did
long ago, so the steps run in one subprocess (tests/training/mirrored_steps.py) and these tests
read what it measured: per supernet, the largest relative difference of any trained variable
(weights and architecture variables) from the one-device step on the same global batch, whether
both replicas hold identical copies, and the path each replica drew.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# ViTAS (mirrored_steps.py "vitas") is left out: its mirrored step does not equal the one-device step yet
# (replicas diverge by ~5e-4 after one step; see docs/SCALING.md), and search_vitas refuses --distribution.
CASES = ("single_darts", "darts_first_order", "darts_second_order", "bats", "hurricane_spos")
SAMPLED = ("hurricane_spos",)
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("mirrored") / "steps.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, os.path.join(HERE, "mirrored_steps.py"), str(out), *CASES], env=env,
                          capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("case", CASES)
def test_mirrored_step_equals_the_one_device_step(measured, case):
    result = measured[case]
    assert measured["replicas"] == 2
    assert "error" not in result, result.get("error")
    assert result["moved"] and result["compared_variables"] > 0
    assert result["max_relative_error"] <= TOLERANCE, result
    assert result["replicas_max_difference"] == 0.0, result


@pytest.mark.parametrize("case", ("single_darts", "darts_first_order", "darts_second_order", "bats"))
def test_architecture_variables_are_identical_on_both_replicas(measured, case):
    assert "error" not in measured[case], measured[case].get("error")
    assert measured[case]["arch_variables"] > 0
    assert measured[case]["arch_identical_on_replicas"]


@pytest.mark.parametrize("case", SAMPLED)
def test_every_replica_trains_the_path_of_the_one_device_step(measured, case):
    result = measured[case]
    assert "error" not in result, result.get("error")
    first, second = result["replica_paths"]
    assert first == second == result["single_path"]
    assert result["path_after"] == [result["single_path"]] * 2
