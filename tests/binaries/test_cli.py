"""The binaries as users run them: documented flags, and one clear line (exit 2) on bad input."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARIES = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "binaries"))
                  if f.endswith(".py") and not f.startswith("_"))


def _start(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_every_binary_documents_every_flag():
    procs = {name: _start(f"binaries.{name}", "--helpfull") for name in BINARIES}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        # absl exits with status 1 after printing --helpfull; a crash would print a traceback instead
        assert proc.returncode in (0, 1) and "Traceback" not in err, f"{name} --helpfull failed:\n{err[-2000:]}"
        assert f"binaries.{name}" in out or "flags." in out, out[:500]
        # absl prints "--flag: help"; an undocumented flag would show an empty help text
        tfnas_section = out.split("flags.common:")[-1] if "flags.common:" in out else out
        assert "--output_dir" in out or name in ("export", "profile_latency")
        for line in tfnas_section.splitlines():
            if re.match(r"^\s*--[\w.]+:\s*(<[^>]*>:?\s*)?$", line):
                pytest.fail(f"{name}: flag without help: {line.strip()}")


@pytest.mark.parametrize("args, message", [
    (["binaries.search_single_darts", "--dataset=no_such_dataset"], "unknown dataset 'no_such_dataset'"),
    (["binaries.search_darts", "--dataset=cifar10", "--data_dir={tmp}"], "tfds build cifar10"),
    (["binaries.train", "--genotype={tmp}/genotype.json"], "not valid JSON"),
    (["binaries.search_random", "--benchmark=nasbench201", "--num_workers=2"],
     "--num_workers only apply to --executor=ray"),
])
def test_bad_input_ends_with_one_clear_line(tmp_path, args, message):
    (tmp_path / "genotype.json").write_text("{oops")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args] + [f"--output_dir={tmp_path}/out"]
    proc = _start(*args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err[-2000:]
    error_lines = [l for l in err.splitlines() if l.startswith("error: ")]
    assert len(error_lines) == 1 and message in error_lines[0], err[-2000:]
    assert "Traceback" not in err
