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
    (["binaries.search_random", "--distribution=mirrored"], "search_random runs on one device"),
    (["binaries.search_hurricane", "--distribution=multi_worker"], "search_hurricane runs on one device"),
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


@pytest.fixture(scope="module")
def without_tensorflow(tmp_path_factory):
    """PYTHONPATH under which ``import tensorflow`` fails: what runs there never needed TensorFlow."""
    root = tmp_path_factory.mktemp("no_tf")
    (root / "tensorflow").mkdir()
    (root / "tensorflow" / "__init__.py").write_text("raise ImportError('tensorflow was imported')\n")
    return str(root)


@pytest.mark.parametrize("args, message", [
    (["binaries.search_single_darts", "--output_dir={file}"], "is a file, not a directory"),
    (["binaries.search_darts", "--space=darts", "--layers=2", "--output_dir={out}"], "at least 3 cells"),
    (["binaries.search_bats", "--layers=1", "--output_dir={out}"], "at least 3 cells"),
    (["binaries.search_hurricane", "--device_table=t.json", "--max_latency_ms=0", "--output_dir={out}"],
     "--max_latency_ms"),
    (["binaries.search_vitas", "--min_mflops=1", "--max_mflops=2", "--output_dir={file}/run"], "is a file"),
    (["binaries.train", "--genotype={bats}", "--binary", "--layers=2", "--output_dir={out}"], "at least 3 cells"),
    (["binaries.quickstart", "--output_dir={file}/run"], "is a file, not a directory"),
    (["binaries.search_evolution", "--benchmark=nasbench201", "--output_dir={file}"], "is a file"),
])
def test_bad_settings_fail_before_tensorflow_and_leave_nothing(tmp_path, without_tensorflow, args, message):
    """A bad flag costs a second (no TensorFlow import, no data) and writes nothing into --output_dir."""
    from tfnas.spaces.base import save_genotype
    from tfnas.spaces.bats import BatsGenotype

    (tmp_path / "a_file").write_text("not a directory")
    bats = tmp_path / "bats.json"
    cell = (("group_conv_3x3", 0), ("skip_connect", 1), ("group_conv_5x5", 0), ("avg_pool_3x3", 2),
            ("skip_connect", 1), ("group_conv_3x3", 3), ("max_pool_3x3", 2), ("skip_connect", 4))
    save_genotype(BatsGenotype(normal=cell, reduce=cell), str(bats))
    subs = {"{file}": str(tmp_path / "a_file"), "{out}": str(tmp_path / "out"), "{bats}": str(bats)}
    args = [a.replace("{file}", subs["{file}"]).replace("{out}", subs["{out}"]).replace("{bats}", subs["{bats}"])
            for a in args]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([without_tensorflow, ROOT, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, text=True, capture_output=True,
                          timeout=120)
    error_lines = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
    assert proc.returncode == 2 and len(error_lines) == 1 and message in error_lines[0], proc.stderr[-2000:]
    assert not (tmp_path / "out").exists()


def test_a_tabular_search_never_imports_tensorflow(tmp_path, without_tensorflow):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([without_tensorflow, ROOT, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "binaries.search_evolution", "--benchmark=nasbench201",
                           "--max_evaluations=20", f"--output_dir={tmp_path}/evo", "--verbose=0"],
                          cwd=ROOT, env=env, text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "evo" / "genotype.json").exists()
