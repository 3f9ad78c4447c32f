"""binaries.search_hurricane end to end on the embedded data (tiny settings), its outputs, resume and errors.

Its genotype trained and exported by binaries.train / binaries.export: tests/test_tutorial.py (HURRICANE).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import tfnas  # noqa: F401

from conftest import read_trials
from tfnas.spaces import hurricane
from tfnas.spaces.base import load_genotype

REPO = __file__.rsplit("/tests/", 1)[0]
CONFIG = hurricane.HurricaneConfig(32, 0.25, input_channels=1, num_classes=10)  # mnist_embedded at 32 px
OPS = ("mbconv_k3_e1", "shufflenet_k3", "mbconv_k3_e3_se")
COST = {"mbconv_k3_e1": 0.01, "shufflenet_k3": 0.03, "mbconv_k3_e3_se": 0.03}
LIMIT = 0.05 + 20 * 0.01 + 0.02 + 0.005  # the all-fastest network plus room for exactly one heavier op
TINY = ["--resolution=32", "--width_multiplier=0.25", "--top_k=2", "--epochs=1", "--steps_per_epoch=2",
        "--batch_size=32", "--population_size=4", "--generations=2", "--num_parents=2", "--num_mutations=2",
        "--num_crossovers=2", "--recalibration_batches=2", "--eval_examples=128", "--num_runs=10",
        "--warmup_runs=2", "--verbose=0"]


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    """A device where only the four strided layers have a choice (keeps both supernets tiny)."""
    from conftest import strided_choice_table

    return strided_choice_table(CONFIG, {op: COST[op] for op in OPS}, str(tmp_path_factory.mktemp("tables") / "table.json"))


@pytest.fixture(autouse=True)
def _shared_tfds_dir(tfds_dir, monkeypatch):
    """The binary reads the embedded data from the session's tfds directory, not the user's home."""
    monkeypatch.setenv("TFDS_DATA_DIR", tfds_dir)


def _run(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "binaries.search_hurricane", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


def test_search_writes_genotype_space_summary_and_resumes(table_path, tmp_path):
    out = str(tmp_path / "run")
    limit = LIMIT
    proc = _run(f"--device_table={table_path}", f"--max_latency_ms={limit}", f"--output_dir={out}", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.load(open(os.path.join(out, "search_summary.json")))
    best = summary["best"]
    assert best["predicted_latency_ms"] <= limit and best["measured_latency_ms"] > 0
    assert 0.0 <= best["accuracy"] <= 1.0
    assert all(h["predicted_latency_ms"] <= limit for h in summary["history"])
    assert {h["stage"] for h in summary["history"]} == {"stage1", "stage2"}
    assert [s["name"] for s in summary["stages"]] == ["stage1", "stage2"]
    genotype = load_genotype(os.path.join(out, "genotype.json"), expected_space="hurricane")
    assert list(genotype.ops) == best["genotype"]["ops"]
    space = json.load(open(os.path.join(out, "generated_space.json")))
    assert [len(c) for c in space["candidates"]] == [2 if p.stride == 2 else 1 for p in CONFIG.positions()]
    # The limit binds: the stage-1 space has an architecture over it, and it was never evaluated.
    assert any(h["ops"][8] != "mbconv_k3_e1" or h["ops"][16] != "mbconv_k3_e1" for h in summary["history"])
    assert not any(h["ops"][8] != "mbconv_k3_e1" and h["ops"][16] != "mbconv_k3_e1" for h in summary["history"])
    assert os.listdir(os.path.join(out, "tensorboard", "search"))
    # Every evaluated candidate is one HParams trial of one experiment, under its stage's folder: its stage and
    # all 20 layers' ops as hparams, its accuracy and predicted latency as metrics.
    trials = read_trials(os.path.join(out, "tensorboard", "trials"))
    assert set(trials["experiment"]["hparams"]) == {"stage", *(hurricane.layer_name(i) for i in range(20))}
    assert trials["experiment"]["metrics"] == ["trial/accuracy", "trial/predicted_latency_ms"]
    expected = {}
    for h in summary["history"]:
        n = 1 + sum(key.startswith(h["stage"] + "/") for key in expected)
        expected[f"{h['stage']}/{n:05d}"] = (f"{h['stage']}/{n}", h)
    assert sorted(trials["trials"]) == sorted(expected)
    for directory, trial in trials["trials"].items():
        trial_id, h = expected[directory]
        assert trial["id"] == trial_id
        assert trial["hparams"] == {"stage": h["stage"], **{hurricane.layer_name(i): op for i, op in enumerate(h["ops"])}}
        assert trial["metrics"] == pytest.approx({"trial/accuracy": h["accuracy"],
                                                  "trial/predicted_latency_ms": h["predicted_latency_ms"]})
    # Re-running with the same output_dir resumes: nothing is trained or evaluated again.
    again = _run(f"--device_table={table_path}", f"--max_latency_ms={limit}", f"--output_dir={out}", *TINY)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.load(open(os.path.join(out, "search_summary.json")))["history"] == summary["history"]
    assert read_trials(os.path.join(out, "tensorboard", "trials")) == trials  # no trial logged twice
    # Different settings in the same output_dir are refused (nothing is lost).
    changed = _run(f"--device_table={table_path}", "--max_latency_ms=0.5", f"--output_dir={out}", *TINY)
    # (a different limit is a different search)
    assert changed.returncode != 0 and "--fresh" in changed.stderr
    assert os.path.exists(os.path.join(out, "search_summary.json"))


def test_bad_inputs_are_clear_errors(table_path, tmp_path):
    out = str(tmp_path / "bad")
    proc = _run(f"--device_table={tmp_path / 'missing.json'}", f"--max_latency_ms={LIMIT}", f"--output_dir={out}",
                *TINY)
    assert proc.returncode != 0 and "--build_table" in proc.stderr
    proc = _run(f"--device_table={table_path}", "--max_latency_ms=0.1", f"--output_dir={out}", *TINY)
    assert proc.returncode != 0 and "below the fastest architecture" in proc.stderr
    wrong = [a if not a.startswith("--width_multiplier") else "--width_multiplier=0.5" for a in TINY]
    proc = _run(f"--device_table={table_path}", f"--max_latency_ms={LIMIT}", f"--output_dir={out}", *wrong)
    assert proc.returncode != 0 and "width_multiplier 0.25 (asked for 0.5)" in proc.stderr
    assert not os.path.exists(os.path.join(out, "search_summary.json"))
