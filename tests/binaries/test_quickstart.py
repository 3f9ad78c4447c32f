"""The main job as a user runs it (tiny settings): at most 60 lines, a readable table, a re-run reports it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--search_epochs=2", "--train_epochs=1", "--steps_per_epoch=2", "--search_layers=1", "--train_layers=1",
        "--channels=4", "--batch_size=16"]


def _run(out: str, tfds_dir: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TFDS_DATA_DIR=tfds_dir, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "binaries.quickstart", f"--output_dir={out}", *TINY], cwd=ROOT,
                          env=env, text=True, capture_output=True, timeout=900)


def test_main_job_is_short_ends_with_a_table_and_a_rerun_reports_the_stored_result(tmp_path, tfds_dir):
    out = str(tmp_path / "qs")
    first = _run(out, tfds_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = (first.stdout + first.stderr).strip().splitlines()
    assert len(lines) <= 60, "\n".join(lines)
    assert [l.split("]")[0] for l in first.stdout.splitlines() if l.startswith("[")] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    table = first.stdout.split("=== tfnas main job: done ===")[1]
    for row in ("found cell", "trained network", "latency (LiteRT)", "summary.json"):
        assert row in table
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert f"test accuracy {summary['test_accuracy']:.4f}" in table  # rounded, not 0.9850000143051147
    second = _run(out, tfds_dir)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "already finished" in second.stdout and "[1/4]" not in second.stdout
    assert json.load(open(os.path.join(out, "summary.json")))["wall_time_s"] == summary["wall_time_s"]
