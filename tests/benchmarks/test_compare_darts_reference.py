"""compare_darts_reference.py refuses a folder that is not the DARTS authors' cnn/ before creating anything."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_reference_dir_without_model_search_is_refused_with_one_error_line(tmp_path):
    venv = tmp_path / "venv"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "compare_darts_reference.py"),
                           f"--reference_dir={tmp_path}", f"--venv={venv}"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "error: --reference_dir" in proc.stderr and "model_search.py" in proc.stderr
    assert not venv.exists()  # nothing created before the input was checked


def test_an_unknown_policy_is_refused(tmp_path):
    (tmp_path / "model_search.py").write_text("")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "compare_darts_reference.py"),
                           f"--reference_dir={tmp_path}", "--mixed_precision=float64", f"--venv={tmp_path / 'v'}"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "error: --mixed_precision=float64" in proc.stderr
    assert not (tmp_path / "v").exists()
