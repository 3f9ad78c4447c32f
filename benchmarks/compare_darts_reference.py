"""tfnas' DARTS search step against the DARTS authors' PyTorch step, side by side in one run.

Usage:
  python benchmarks/compare_darts_reference.py --reference_dir=<the DARTS authors' cnn/ folder>
      [--mixed_precision=float32[,mixed_bfloat16]] [--rounds=1] [--steps=3] [--venv=DIR]

Both sides run the first-order DARTS step of the CIFAR-10 search (8 cells, C=16, batch 64,
32x32x3; one architecture update + one weight update; 3 timed steps after 1 warm-up step), each
in its own process so that peak RSS is the step's own: tfnas through benchmarks/supernet_step.py,
the reference through benchmarks/darts_reference_step.py, which imports the authors'
model_search.Network and architect.Architect from --reference_dir (see its docstring for the
run-time shims). The reference runs under PyTorch's CPU wheel in a separate virtual environment
that this script creates once (default ~/.cache/tfnas-ref-venv, outside the repository; torch is
never a tfnas requirement).

The runs alternate so that both sides see the same machine: for each round, every tfnas policy
then the reference, and the tfnas policies once more at the end (tfnas brackets every reference
run). Ratios are tfnas / reference: the mean of tfnas' s/step over the round(s) against the mean
reference s/step, tfnas' largest peak RSS against the reference's smallest.

Last stdout line: one JSON object with time_ratio, mem_ratio, both s/step, both peak RSS, both
first-step times (process start to the end of the first step) and the CPU model, for the first
policy given; ``policies`` holds the same figures for every policy.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_VENV = os.path.join(os.path.expanduser("~"), ".cache", "tfnas-ref-venv")
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def ensure_reference_venv(venv: str, torch_version: str) -> str:
    """The reference's Python: a venv with torch's CPU wheel, created on first use."""
    python = os.path.join(venv, "bin", "python")
    check = [python, "-c", f"import torch, sys; sys.exit(torch.__version__.split('+')[0] != '{torch_version}')"]
    if os.path.exists(python) and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating the reference venv in {venv} (torch=={torch_version}, CPU)", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", f"torch=={torch_version}", "numpy"], check=True)
    subprocess.run(check, check=True)
    return python


def run_json(cmd: list[str], label: str) -> dict:
    """Run one side in its own process; its last stdout line is its JSON result."""
    print(f"[{time.strftime('%H:%M:%S')}] {label}: load {load()}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"error: {label} failed (exit {proc.returncode}): {' '.join(cmd)}")
    result = json.loads(lines[-1])
    result["load_before"] = load()
    print(f"  {label}: {result['s_per_step']} s/step, {result['peak_rss_mib']} MiB, "
          f"first step {result['first_step_s']} s", file=sys.stderr, flush=True)
    return result


def summarise(tfnas_runs: list[dict], ref_runs: list[dict]) -> dict:
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    t_step, r_step = mean([r["s_per_step"] for r in tfnas_runs]), mean([r["s_per_step"] for r in ref_runs])
    t_mem, r_mem = max(r["peak_rss_mib"] for r in tfnas_runs), min(r["peak_rss_mib"] for r in ref_runs)
    return {
        "time_ratio": round(t_step / r_step, 3), "mem_ratio": round(t_mem / r_mem, 3),
        "tfnas_s_per_step": round(t_step, 2), "reference_s_per_step": round(r_step, 2),
        "tfnas_peak_rss_mib": t_mem, "reference_peak_rss_mib": r_mem,
        "tfnas_first_step_s": max(r["first_step_s"] for r in tfnas_runs),
        "reference_first_step_s": max(r["first_step_s"] for r in ref_runs),
        "tfnas_runs_s_per_step": [r["s_per_step"] for r in tfnas_runs],
        "reference_runs_s_per_step": [r["s_per_step"] for r in ref_runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference_dir", required=True, help="the DARTS authors' cnn/ folder (model_search.py)")
    parser.add_argument("--mixed_precision", default="float32",
                        help=f"comma-separated tfnas policies to time, from {POLICIES}")
    parser.add_argument("--rounds", type=int, default=1, help="reference runs (tfnas runs one more per policy)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--venv", default=DEFAULT_VENV, help="where the reference's torch venv lives")
    parser.add_argument("--torch_version", default="2.13.0")
    args = parser.parse_args()

    model_search = os.path.join(args.reference_dir, "model_search.py")
    if not os.path.isfile(model_search):
        raise SystemExit(f"error: --reference_dir={args.reference_dir} has no model_search.py; "
                         "pass the DARTS authors' cnn/ folder")
    policies = [p.strip() for p in args.mixed_precision.split(",") if p.strip()]
    bad = [p for p in policies if p not in POLICIES]
    if not policies or bad:
        raise SystemExit(f"error: --mixed_precision={args.mixed_precision}: choose from {POLICIES}")
    ref_python = ensure_reference_venv(args.venv, args.torch_version)
    common = ["--steps", str(args.steps)]
    ref_cmd = [ref_python, os.path.join(HERE, "darts_reference_step.py"), "--reference_dir",
               os.path.abspath(args.reference_dir), *common]
    tfnas_cmd = lambda p: [sys.executable, os.path.join(HERE, "supernet_step.py"), "--mixed_precision", p, *common]  # noqa: E731

    started_load = load()
    tfnas_runs: dict[str, list[dict]] = {p: [] for p in policies}
    ref_runs: list[dict] = []
    for r in range(args.rounds):
        for p in policies:
            tfnas_runs[p].append(run_json(tfnas_cmd(p), f"tfnas {p} (round {r + 1})"))
        ref_runs.append(run_json(ref_cmd, f"reference (round {r + 1})"))
    for p in policies:
        tfnas_runs[p].append(run_json(tfnas_cmd(p), f"tfnas {p} (last)"))

    by_policy = {p: summarise(tfnas_runs[p], ref_runs) for p in policies}
    result = {**by_policy[policies[0]], "mixed_precision": policies[0], "policies": by_policy,
              "cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "load_at_start": started_load,
              "load_at_end": load(), "steps": args.steps, "rounds": args.rounds,
              "reference": {"torch": ref_runs[0]["config"]["torch"],
                            "torch_threads": ref_runs[0]["config"]["torch_threads"],
                            "params": ref_runs[0]["config"]["params"]},
              "tfnas_params": tfnas_runs[policies[0]][0]["config"]["params"]}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
