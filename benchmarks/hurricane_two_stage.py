"""HURRICANE's two-stage search vs one-stage SPOS: supernet training time, and the found networks retrained.

    python benchmarks/hurricane_two_stage.py --table=runs/tables/cpu_32px_w025_mnist_t1.json \
        --output_dir=runs/hurricane_two_stage

Per seed (default 0, 1, 2), on the same generated space (top-k per layer from the device table),
batch size, optimiser and latency limit:
* one-stage SPOS: the supernet over all 20 layers trains ``--epochs``;
* HURRICANE: stage 1 and stage 2 train the budget rule's epochs (``SearchSettings.stage_epochs``:
  ``--epochs`` x the share of layers each searches, 6 + 4 of 10), unless
  ``--stage1_epochs`` / ``--stage2_epochs`` say otherwise;
then each found architecture is trained from scratch with the same budget
(``tfnas.training.trainer.train_genotype``, ``--retrain_epochs``) and scored on the test split.

Supernet training time is measured around each stage's training (tracing included; evolution
excluded): wall seconds and this process's CPU seconds. On a shared machine the CPU seconds are the
figure to compare: other processes stretch the wall time of whichever run they overlap. Every search
runs in a process of its own (the order of the two alternates between seeds), so none inherits
another's traced graphs or warm caches; a finished one is reused when the benchmark is re-run. The
last line is one JSON object with
``two_stage_over_one_stage`` (total supernet training wall time, summed over seeds),
``two_stage_over_one_stage_cpu``, both searches' retrained accuracies and whether the bar holds.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfnas  # noqa: E402,F401

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfnas import data as data_lib  # noqa: E402
from tfnas.hardware import latency_table, space_generation  # noqa: E402
from tfnas.methods import hurricane as method  # noqa: E402
from tfnas.spaces import hurricane  # noqa: E402
from tfnas.files import write_json  # noqa: E402
from tfnas.spaces.base import save_genotype  # noqa: E402
from tfnas.training.trainer import TrainConfig, train_genotype  # noqa: E402

STAGE_TIMES: list[dict[str, float]] = []


def _timed_training(train):
    """method.train_supernet, recording wall and CPU seconds of every call (one per stage) and the CPU
    seconds at the end of each epoch (the first epoch holds the tracing)."""
    def wrapper(supernet, *args, **kwargs):
        marks: list[float] = []
        fit = supernet.fit

        def fit_marking_epochs(*a, callbacks=None, **k):
            mark = tf.keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: marks.append(time.process_time()))
            return fit(*a, callbacks=[*(callbacks or []), mark], **k)

        supernet.fit = fit_marking_epochs
        wall, cpu = time.perf_counter(), time.process_time()
        result = train(supernet, *args, **kwargs)
        STAGE_TIMES.append({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                            "first_epoch_cpu_s": marks[0] - cpu if marks else None,
                            "later_epochs_cpu_s": marks[-1] - marks[0] if marks else None,
                            "later_epochs": max(0, len(marks) - 1)})
        return result
    return wrapper


def history_times(output_dir: str, stage: str) -> dict[str, float]:
    """First-epoch and later-epoch wall seconds of one stage, from its history.json."""
    with open(os.path.join(output_dir, stage, "history.json")) as f:
        cumulative = [h["wall_time_s"] for h in json.load(f)]
    times = [b - a for a, b in zip([0.0] + cumulative[:-1], cumulative)]
    return {"first_epoch_s": times[0], "later_epochs_s": sum(times[1:]), "epochs": len(times)}


def search(kind: str, settings: method.SearchSettings, generated, table, config, data, output_dir: str) -> dict:
    tf.keras.backend.clear_session()
    before = len(STAGE_TIMES)
    results, _ = method.search(generated, table, config, settings, data, output_dir, verbose=0)
    measured = STAGE_TIMES[before:]
    stages = {}
    for result, times in zip(results, measured):
        stages[result.name] = {**times, **history_times(output_dir, result.name),
                               "epochs_budget": settings.stage_epochs(result.name)}
    best = results[-1]
    return {"kind": kind, "ops": list(best.best_ops), "supernet_accuracy": best.accuracy,
            "predicted_latency_ms": best.predicted_latency_ms, "stages": stages,
            "train_wall_s": sum(t["wall_s"] for t in measured), "train_cpu_s": sum(t["cpu_s"] for t in measured)}


def retrain(ops, args, seed: int, output_dir: str) -> dict:
    """Train the architecture from scratch (the budget is the same for every architecture)."""
    tf.keras.backend.clear_session()
    path = os.path.join(output_dir, "genotype.json")
    save_genotype(hurricane.HurricaneGenotype(tuple(ops), args.resolution, args.width_multiplier), path)
    summary = train_genotype(TrainConfig(
        output_dir=os.path.join(output_dir, "train"), genotype=path, dataset=args.dataset, seed=seed,
        batch_size=args.batch_size, epochs=args.retrain_epochs, steps_per_epoch=args.retrain_steps_per_epoch,
        learning_rate=args.retrain_learning_rate, weight_decay=4e-5, drop_path=0.0, auxiliary=False, verbose=0))
    return {"test_accuracy": summary["test_accuracy"], "params": summary["params"]}


def mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "values": [float(v) for v in values]}


def run_one(args, seed: int, kind: str, output_dir: str) -> dict:
    """One search (and the retraining of what it found), in this process; the result as JSON."""
    method.train_supernet = _timed_training(method.train_supernet)
    data = data_lib.load_image_data(args.dataset, image_size=args.resolution)
    config = hurricane.HurricaneConfig(args.resolution, args.width_multiplier, data.image_shape[-1], data.num_classes)
    table = latency_table.LatencyTable.load(args.table, config)
    generated = space_generation.generate_space(table, args.top_k)
    fastest, _ = table.fastest(generated.candidates)
    slowest = table.predict([max(c, key=lambda op, i=i: table.op_latency(i, op))
                             for i, c in enumerate(generated.candidates)])
    limit = fastest + args.limit_quantile * (slowest - fastest)
    common = dict(max_latency_ms=limit, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                  batch_size=args.batch_size, population_size=args.population_size, generations=args.generations,
                  num_parents=max(2, args.population_size // 5), num_mutations=args.population_size // 2,
                  num_crossovers=args.population_size // 2, recalibration_batches=args.recalibration_batches,
                  eval_examples=args.eval_examples, seed=seed)
    settings = (method.SearchSettings(stages=1, **common) if kind == "one_stage" else
                method.SearchSettings(stages=2, stage1_epochs=args.stage1_epochs, stage2_epochs=args.stage2_epochs,
                                      **common))
    result = search(kind, settings, generated, table, config, data, output_dir)
    result["retrained"] = retrain(result["ops"], args, seed, output_dir)
    result.update(max_latency_ms=limit, seed=seed, table_device=table.device,
                  stage_epochs={s: settings.stage_epochs(s) for s in ("spos", "stage1", "stage2")})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True, help="device table for (resolution, width, dataset)")
    parser.add_argument("--dataset", default="mnist_embedded")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--width_multiplier", type=float, default=0.25)
    parser.add_argument("--top_k", type=int, default=4)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=10, help="one-stage SPOS epochs (search_hurricane's default)")
    parser.add_argument("--stage1_epochs", type=int, default=None, help="default: the budget rule")
    parser.add_argument("--stage2_epochs", type=int, default=None, help="default: the budget rule")
    parser.add_argument("--steps_per_epoch", type=int, default=None, help="default: the whole training part")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--population_size", type=int, default=10)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--recalibration_batches", type=int, default=200, help="SPOS' 200; capped by the data")
    parser.add_argument("--eval_examples", type=int, default=800)
    parser.add_argument("--retrain_epochs", type=int, default=10)
    parser.add_argument("--retrain_steps_per_epoch", type=int, default=None)
    parser.add_argument("--retrain_learning_rate", type=float, default=0.05)
    parser.add_argument("--limit_quantile", type=float, default=0.5,
                        help="latency limit between the fastest (0) and slowest (1) architecture of the space")
    parser.add_argument("--output_dir", required=True,
                        help="one directory per (seed, search); a finished one is reused, an unfinished one redone")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # "seed,kind": run one search here
    args = parser.parse_args()

    if args.worker:
        seed, kind = args.worker.split(",")
        out = os.path.join(args.output_dir, f"seed{seed}", kind)
        write_json(os.path.join(out, "benchmark_result.json"), run_one(args, int(seed), kind, out))
        return

    load_start = os.getloadavg()
    rows = []
    for n, seed in enumerate(int(s) for s in args.seeds.split(",")):
        row: dict = {"seed": seed}
        for kind in (["one_stage", "two_stage"] if n % 2 == 0 else ["two_stage", "one_stage"]):
            out = os.path.join(args.output_dir, f"seed{seed}", kind)
            done = os.path.join(out, "benchmark_result.json")
            if not os.path.exists(done):
                shutil.rmtree(out, ignore_errors=True)  # a half-finished run would time only its remainder
                subprocess.run([sys.executable, os.path.abspath(__file__), *sys.argv[1:], f"--worker={seed},{kind}"],
                               check=True)
            with open(done) as f:
                row[kind] = json.load(f)
            print(f"seed {seed} {kind}: supernet training {row[kind]['train_wall_s']:.1f} s wall, "
                  f"{row[kind]['train_cpu_s']:.1f} s CPU; retrained test accuracy "
                  f"{row[kind]['retrained']['test_accuracy']:.4f}; predicted {row[kind]['predicted_latency_ms']:.4f} ms "
                  f"(limit {row[kind]['max_latency_ms']:.4f})", flush=True)
        rows.append(row)

    def total(kind: str, key: str) -> float:
        return sum(r[kind][key] for r in rows)

    one = mean_std([r["one_stage"]["retrained"]["test_accuracy"] for r in rows])
    two = mean_std([r["two_stage"]["retrained"]["test_accuracy"] for r in rows])
    gap = abs(two["mean"] - one["mean"])
    ratio_wall = total("two_stage", "train_wall_s") / total("one_stage", "train_wall_s")
    ratio_cpu = total("two_stage", "train_cpu_s") / total("one_stage", "train_cpu_s")
    def steady(kind: str) -> float:
        """Supernet training CPU seconds per seed with the first epoch (tracing) at the later epochs' rate."""
        total_s = 0.0
        for r in rows:
            for st in r[kind]["stages"].values():
                per_epoch = (st["later_epochs_cpu_s"] / st["later_epochs"] if st["later_epochs"]
                             else st["first_epoch_cpu_s"])
                total_s += per_epoch * st["epochs_budget"]
        return total_s

    within_limit = all(r[k]["predicted_latency_ms"] <= r[k]["max_latency_ms"] for r in rows
                       for k in ("one_stage", "two_stage"))
    result = {
        "two_stage_over_one_stage": ratio_wall,
        "two_stage_over_one_stage_cpu": ratio_cpu,
        "two_stage_over_one_stage_cpu_without_tracing": steady("two_stage") / steady("one_stage"),
        "per_seed_ratio_wall": [r["two_stage"]["train_wall_s"] / r["one_stage"]["train_wall_s"] for r in rows],
        "per_seed_ratio_cpu": [r["two_stage"]["train_cpu_s"] / r["one_stage"]["train_cpu_s"] for r in rows],
        "one_stage_retrained_accuracy": one, "two_stage_retrained_accuracy": two,
        "accuracy_gap": gap, "within_one_std": bool(gap <= min(one["std"], two["std"])),
        "both_within_latency_limit": within_limit, "max_latency_ms": rows[0]["one_stage"]["max_latency_ms"],
        "bar_time": bool(ratio_cpu <= 0.75 and ratio_wall <= 0.75),
        "stage_epochs": rows[0]["two_stage"]["stage_epochs"],
        "runs": rows, "load_average_start": load_start, "load_average_end": os.getloadavg(),
        "config": {k: v for k, v in vars(args).items() if k != "worker"},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
