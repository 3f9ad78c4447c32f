"""ViTAS' bad input as users meet it: one `error:` line (exit 2) before any work, nothing written."""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _start(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_bad_vitas_input_ends_with_one_clear_line(tmp_path, tfds_dir, mnist):  # mnist: prepared once, not raced
    genotype = {"space": "vit", "version": 1, "image_size": 28, "patch_size": 7, "embed_dim": 16,
                "blocks": [{"heads": 1, "attention_dim": 16, "mlp_dim": 32}]}
    (tmp_path / "vit.json").write_text(json.dumps(genotype))
    common = [f"--data_dir={tfds_dir}"]
    cases = {
        "window": (["binaries.search_vitas", "--min_mflops=500", "--max_mflops=600", f"--output_dir={tmp_path}/w"],
                   "its subnets range from 0.0127 to 11.8 MFLOPs"),
        "patch": (["binaries.search_vitas", "--min_mflops=1", "--max_mflops=2", "--patch_sizes=4,5",
                   f"--output_dir={tmp_path}/p"], "patch size(s) [5] do not divide the image size 28"),
        "cnn_path": (["binaries.train", f"--genotype={tmp_path}/vit.json", "--binary", f"--output_dir={tmp_path}/b"],
                     "space 'vit' has no binary network"),
    }
    procs = {name: _start(*args, *common) for name, (args, _) in cases.items()}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        lines = [line for line in err.splitlines() if line.startswith("error: ")]
        assert proc.returncode == 2 and len(lines) == 1 and cases[name][1] in lines[0], (name, err[-2000:])
        assert "Traceback" not in err
    assert not (tmp_path / "w").exists() and not (tmp_path / "p").exists()
