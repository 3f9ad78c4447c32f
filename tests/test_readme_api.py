"""The README's Python API block, run exactly as written (in a fresh process, in a scratch directory)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_snippet() -> str:
    text = open(os.path.join(ROOT, "README.md")).read()
    match = re.search(r"<!-- api-snippet -->\s*```python\n(.*?)```\s*<!-- /api-snippet -->", text, re.S)
    assert match, "README.md lost its api-snippet block"
    return match.group(1)


def test_the_readme_python_api_runs_as_written(tmp_path, tfds_dir):
    env = dict(os.environ, TFDS_DATA_DIR=tfds_dir, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", readme_snippet()], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    accuracy = float(lines[-2])
    size, latency = lines[-1].split()
    assert 0.0 <= accuracy <= 1.0 and int(size) > 1000 and float(latency) > 0
    assert (tmp_path / "runs" / "api_search" / "genotype.json").exists()
    assert (tmp_path / "runs" / "api_model.tflite").read_bytes()[4:8] == b"TFL3"
