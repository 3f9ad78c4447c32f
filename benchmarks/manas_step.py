"""Seconds per MANAS round and the memory it adds, against tfnas' DARTS first-order step, in one run.

DARTS' CIFAR-10 search configuration: 8 cells, 16 initial channels, batch 64, 32x32x3 random
inputs of CIFAR-10's shape (the figures are compute, not data loading). Three measurements, each in
its own subprocess so their memory does not mix:

* ``manas``: ManasSupernet (112 agents x 8 ops, cells recomputed in backward as the search runs
  it) and one MANAS round exactly as ``tfnas.methods.manas_rounds`` runs it: EXP3 agents sample
  a path, one weight step on a training batch through it (PathSGD), the validation loss of the
  path on another batch, every agent updates;
* ``darts``: ``benchmarks/supernet_step.py`` (DARTS first order, default: cells recomputed in
  backward), run as it is;
* ``darts_no_checkpoint``: the same with ``--no_checkpoint`` (activations kept, the setting the
  paper's comparison had).

Memory is what the search adds: peak RSS minus the process's RSS once TensorFlow is imported and
before any model is built (the runtime's own ~1 GiB is the same for all). ``memory_ratio`` is
MANAS over DARTS' default step, ``memory_ratio_no_checkpoint`` over DARTS without recomputation;
``time_ratio`` is a MANAS round over a DARTS first-order step (default). Raw peak RSS is reported too.

Usage:
  python benchmarks/manas_step.py [--rounds 3] [--darts_steps 3] [--batch_size 64] [--layers 8]
      [--init_channels 16] [--share_cells] [--no_checkpoint]
Last line: one JSON object (manas_s_per_step, darts_s_per_step, manas_peak_rss_mib, darts_peak_rss_mib,
time_ratio, memory_ratio, ...).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2 ** 20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure_manas(args) -> dict:
    """One process: import TensorFlow, note RSS, build the supernet, run rounds; report times and memory."""
    started = time.time()
    import tfnas  # noqa: F401
    import numpy as np
    import tensorflow as tf

    baseline = _rss_mib()
    from tfnas.methods.manas_rounds import RoundFunctions
    from tfnas.search.manas_agents import LossScale, make_agents
    from tfnas.supernets.manas_supernet import ManasSupernet
    from tfnas.supernets.path_sampling import PathSGD

    tf.keras.utils.set_random_seed(0)
    b, s = args.batch_size, args.image_size
    x = tf.random.normal([b, s, s, 3])
    y = tf.random.uniform([b], 0, 10, tf.int32)
    xv = tf.random.normal([b, s, s, 3])
    yv = tf.random.uniform([b], 0, 10, tf.int32)
    t0 = time.time()
    supernet = ManasSupernet(10, args.init_channels, args.layers, share_cells=args.share_cells,
                             checkpoint=not args.no_checkpoint, input_shape=(s, s, 3))
    optimizer = PathSGD(0.025, momentum=0.9, weight_decay_l2=3e-4).attach(supernet)
    supernet.compile(optimizer=optimizer, loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    build_s = time.time() - t0
    built_rss = _rss_mib()
    agents = make_agents("exp3", supernet.num_choices, 0, horizon=10_000)
    scale = LossScale.cross_entropy(10)
    functions = RoundFunctions(supernet, "batch")

    def one_round() -> float:
        t = time.time()
        actions = agents.sample()
        _, val_loss = functions.run(actions.astype(np.int32), [(x, y)], [(xv, yv)])
        agents.update(actions, scale(val_loss))
        return time.time() - t

    first_round_s = one_round()
    first_s = time.time() - started
    times = [one_round() for _ in range(args.rounds)]
    peak = _peak_mib()
    return {"s_per_step": round(sum(times) / len(times), 3), "step_times_s": [round(t, 3) for t in times],
            "first_step_s": round(first_s, 1), "first_call_s": round(first_round_s, 2), "build_s": round(build_s, 1),
            "peak_rss_mib": round(peak, 1), "baseline_rss_mib": round(baseline, 1),
            "added_mib": round(peak - baseline, 1), "built_added_mib": round(built_rss - baseline, 1),
            "params": supernet.count_params(), "agents": len(supernet.num_choices)}


DARTS_RUNNER = """
import json, os, runpy, sys
import psutil
import tfnas, tensorflow  # noqa: F401
baseline = psutil.Process().memory_info().rss / 2 ** 20
sys.argv = [{script!r}] + {argv!r}
runpy.run_path({script!r}, run_name="__main__")
print(json.dumps({{"baseline_rss_mib": round(baseline, 1)}}))
"""


def measure_darts(args, no_checkpoint: bool) -> dict:
    """benchmarks/supernet_step.py as it is, in its own process; its RSS after importing TensorFlow is
    read by a two-line wrapper before the script builds anything."""
    script = os.path.join(ROOT, "benchmarks", "supernet_step.py")
    argv = ["--steps", str(args.darts_steps), "--batch_size", str(args.batch_size), "--layers", str(args.layers),
            "--init_channels", str(args.init_channels), "--image_size", str(args.image_size)]
    if no_checkpoint:
        argv.append("--no_checkpoint")
    proc = subprocess.run([sys.executable, "-c", DARTS_RUNNER.format(script=script, argv=argv)], cwd=ROOT,
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"supernet_step.py failed: {proc.stderr[-3000:]}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    step, baseline = lines[-2], lines[-1]["baseline_rss_mib"]
    step["baseline_rss_mib"] = baseline
    step["added_mib"] = round(step["peak_rss_mib"] - baseline, 1)
    return step


def _child(args) -> None:
    print(json.dumps(measure_manas(args)))


def _run_manas_subprocess() -> dict:
    argv = [a for a in sys.argv[1:]] + ["--_child"]
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), *argv], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"MANAS measurement failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed MANAS rounds after the first")
    parser.add_argument("--darts_steps", type=int, default=3, help="timed DARTS steps after the first")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--init_channels", type=int, default=16)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--share_cells", action="store_true", help="2 x 14 agents instead of one set per cell")
    parser.add_argument("--no_checkpoint", action="store_true", help="MANAS without recomputation in backward")
    parser.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        _child(args)
        return
    load = {"before": _load()}
    manas = _run_manas_subprocess()
    load["after_manas"] = _load()
    darts = measure_darts(args, no_checkpoint=False)
    load["after_darts"] = _load()
    darts_nc = measure_darts(args, no_checkpoint=True)
    load["after_darts_no_checkpoint"] = _load()
    result = {
        "manas_s_per_step": manas["s_per_step"], "darts_s_per_step": darts["s_per_step"],
        "darts_no_checkpoint_s_per_step": darts_nc["s_per_step"],
        "manas_peak_rss_mib": manas["peak_rss_mib"], "darts_peak_rss_mib": darts["peak_rss_mib"],
        "darts_no_checkpoint_peak_rss_mib": darts_nc["peak_rss_mib"],
        "manas_added_mib": manas["added_mib"], "darts_added_mib": darts["added_mib"],
        "darts_no_checkpoint_added_mib": darts_nc["added_mib"],
        "time_ratio": round(manas["s_per_step"] / darts["s_per_step"], 3),
        "memory_ratio": round(manas["added_mib"] / darts["added_mib"], 3),
        "memory_ratio_no_checkpoint": round(manas["added_mib"] / darts_nc["added_mib"], 3),
        "raw_rss_ratio": round(manas["peak_rss_mib"] / darts["peak_rss_mib"], 3),
        "manas": manas, "darts": darts, "darts_no_checkpoint": darts_nc, "load_average": load,
        "config": {"layers": args.layers, "init_channels": args.init_channels, "batch_size": args.batch_size,
                   "image_size": args.image_size, "share_cells": args.share_cells,
                   "manas_checkpoint": not args.no_checkpoint, "cpu_count": os.cpu_count()},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
