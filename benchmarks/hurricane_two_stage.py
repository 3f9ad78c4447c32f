"""Supernet training time of HURRICANE's two-stage search vs one-stage SPOS on the embedded data.

    python benchmarks/hurricane_two_stage.py --table=runs/tables/cpu_32px_w025_mnist.json --epochs=3

Both searches run the same generated space (top-k per layer from the device table), batch size and
optimiser. Budgets compared:
* equal sampled steps per layer: one-stage trains ``epochs`` x ``steps`` steps with all 20 layers
  sampled; each HURRICANE stage trains the same number of steps with only its layers sampled.
* equal total steps: the one-stage step count split between the two stages by their layer counts.
Training time = wall time of the supernet's fit (all epochs, tracing included); ``steady`` excludes
the first epoch of each stage (tracing, graph building). The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfnas  # noqa: E402,F401

import tensorflow as tf  # noqa: E402

from tfnas import data as data_lib  # noqa: E402
from tfnas.hardware import latency_table, space_generation  # noqa: E402
from tfnas.methods import hurricane as method  # noqa: E402
from tfnas.spaces import hurricane  # noqa: E402


def stage_times(output_dir: str) -> dict[str, dict[str, float]]:
    """Per stage: total, first-epoch and steady training seconds, from the stage's history.json
    (cumulative wall time per completed epoch, written by the run directory's epoch checkpoints)."""
    out = {}
    for name in ("spos", "stage1", "stage2"):
        path = os.path.join(output_dir, name, "history.json")
        if os.path.exists(path):
            cumulative = [h["wall_time_s"] for h in json.load(open(path))]
            times = [b - a for a, b in zip([0.0] + cumulative[:-1], cumulative)]
            out[name] = {"total_s": sum(times), "first_epoch_s": times[0], "steady_s": sum(times[1:]),
                         "epochs": len(times)}
    return out


def run(kind: str, settings: method.SearchSettings, generated, table, config, data, root: str) -> dict:
    output_dir = os.path.join(root, kind)
    tf.keras.backend.clear_session()
    results, _ = method.search(generated, table, config, settings, data, output_dir, verbose=0)
    times = stage_times(output_dir)
    return {"train_s": sum(t["total_s"] for t in times.values()), "steady_s": sum(t["steady_s"] for t in times.values()),
            "stages": times, "best_accuracy": results[-1].accuracy,
            "best_predicted_latency_ms": results[-1].predicted_latency_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True, help="device table for (resolution, width, mnist_embedded)")
    parser.add_argument("--dataset", default="mnist_embedded")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--width_multiplier", type=float, default=0.25)
    parser.add_argument("--top_k", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps_per_epoch", type=int, default=40)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--limit_quantile", type=float, default=0.5,
                        help="latency limit between the fastest (0) and slowest (1) architecture of the space")
    parser.add_argument("--output_dir", default=None, help="keep the runs here (default: a temporary directory)")
    args = parser.parse_args()

    data = data_lib.load_image_data(args.dataset, image_size=args.resolution)
    config = hurricane.HurricaneConfig(args.resolution, args.width_multiplier, data.image_shape[-1], data.num_classes)
    table = latency_table.LatencyTable.load(args.table, config)
    generated = space_generation.generate_space(table, args.top_k)
    fastest, _ = table.fastest(generated.candidates)
    slowest = table.predict([max(c, key=lambda op, i=i: table.op_latency(i, op))
                             for i, c in enumerate(generated.candidates)])
    limit = fastest + args.limit_quantile * (slowest - fastest)
    common = dict(max_latency_ms=limit, batch_size=args.batch_size, population_size=8, generations=2,
                  num_parents=4, num_mutations=4, num_crossovers=4, recalibration_batches=4, eval_examples=256)
    split = 8
    one = method.SearchSettings(stages=1, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, **common)
    two = method.SearchSettings(stages=2, stage_split=split, epochs=args.epochs,
                                steps_per_epoch=args.steps_per_epoch, **common)
    root = args.output_dir or tempfile.mkdtemp(prefix="hurricane_two_stage_")
    try:
        one_stage = run("one_stage", one, generated, table, config, data, root)
        print(f"one-stage SPOS: {one_stage['train_s']:.1f} s training", flush=True)
        two_stage = run("two_stage", two, generated, table, config, data, root)
        print(f"two-stage (equal sampled steps per layer): {two_stage['train_s']:.1f} s training", flush=True)
        later = hurricane.NUM_LAYERS - split
        s1 = max(1, round(args.steps_per_epoch * later / hurricane.NUM_LAYERS))
        s2 = max(1, args.steps_per_epoch - s1)
        two_total = run_equal_total(two, s1, s2, generated, table, config, data, root)
        print(f"two-stage (equal total steps {s1}+{s2} per epoch): {two_total['train_s']:.1f} s training", flush=True)
    finally:
        if args.output_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    result = {
        "ratio_equal_steps_per_layer": two_stage["train_s"] / one_stage["train_s"],
        "ratio_equal_steps_per_layer_steady": two_stage["steady_s"] / max(one_stage["steady_s"], 1e-9),
        "ratio_equal_total_steps": two_total["train_s"] / one_stage["train_s"],
        "ratio_equal_total_steps_steady": two_total["steady_s"] / max(one_stage["steady_s"], 1e-9),
        "one_stage": one_stage, "two_stage": two_stage, "two_stage_equal_total": two_total,
        "config": {"dataset": args.dataset, "resolution": args.resolution, "width_multiplier": args.width_multiplier,
                   "top_k": args.top_k, "epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch,
                   "batch_size": args.batch_size, "max_latency_ms": limit, "table_device": table.device}}
    print(json.dumps(result))


def run_equal_total(settings: method.SearchSettings, s1: int, s2: int, generated, table, config, data,
                    root: str) -> dict:
    """Two-stage search whose stages train s1 and s2 steps per epoch (their share of one-stage's steps)."""
    import dataclasses

    output_dir = os.path.join(root, "two_stage_equal_total")
    tf.keras.backend.clear_session()
    first_plan = method.plans(generated.candidates, table, settings)[0]
    r1, supernet = method.run_stage(first_plan, generated.candidates, table, config,
                                    dataclasses.replace(settings, steps_per_epoch=s1), data, output_dir, verbose=0)
    r2, _ = method.run_stage(method.second_plan(r1, settings), generated.candidates, table, config,
                             dataclasses.replace(settings, steps_per_epoch=s2), data, output_dir, init_from=supernet,
                             verbose=0)
    times = stage_times(output_dir)
    return {"train_s": sum(t["total_s"] for t in times.values()), "steady_s": sum(t["steady_s"] for t in times.values()),
            "stages": times, "steps_per_epoch": {"stage1": s1, "stage2": s2}, "best_accuracy": r2.accuracy}


if __name__ == "__main__":
    main()
