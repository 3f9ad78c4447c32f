"""BATS ablation on the embedded data: naive binary DARTS vs the BATS space vs + temperature vs full BATS.

Each variant is searched, then its derived genotype is trained as a binary network with the same
budget (binaries.train --binary's two-stage recipe), for every seed:

  naive        DARTS space and ops with every conv binarised (--naive), T = 1, binary weights and
               activations during the search, no distillation
  space        BATS space, T = 1, binary weights and activations, no distillation
  space_temp   BATS space, BATS' temperature (--temperature, --temperature_schedule,
               --final_temperature), binary weights and activations, no distillation
  full         BATS: the same temperature, binary activations / real weights during the search, and
               distillation from the real-valued supernet searched first (its time is counted)
All variants share --arch_learning_rate and --arch_warmup_epochs (weights only for the first N epochs).
The search network's grouped binary convs have the groups of the trained network (--train_channels),
as binaries.search_bats gives them by default.

Reported per variant (mean and std over seeds): parameter-free ops in the derived genotype, the
discretisation gap of the search (tfnas.methods.bats.discretization_gap: supernet vs argmax vs
derived network, on held-out images), the op distributions' mean entropy; with training
(--train_epochs > 0) the test accuracy of the trained binary network, its BOPs (binary MACs) and real
MACs; search time (teacher included). ``space`` vs ``space_temp`` is the temperature claim: with the
temperature the derived genotype has fewer parameter-free ops and a smaller gap. Runs go to
--output_dir (each variant/seed in its own subprocess, resumable: re-running continues unfinished
searches/trainings and reuses finished ones).

Usage:
  python benchmarks/bats_ablation.py [--output_dir /tmp/bats_ablation] [--seeds 3] [--search_epochs 4]
      [--search_steps 8] [--train_epochs 2] [--train_steps 25] [--image_size 16] [--variants space,space_temp]
      [--arch_learning_rate 3e-4] [--arch_warmup_epochs 0] [--temperature 0.2] [--temperature_schedule constant]
      [--final_temperature T] [--jobs 1]
Last line: one JSON object with the per-variant figures, the configuration, whether the paper's
ordering (naive < space < space_temp < full in accuracy) holds and whether the temperature claim does.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

NO_TEMPERATURE = dict(temperature=1.0, temperature_schedule="constant", final_temperature=None)
"""T = 1 throughout: plain DARTS' softmax, whatever BATS' default temperature is."""
VARIANTS = {
    "naive": dict(naive=True, **NO_TEMPERATURE, binarize="weights_and_activations", kd_weight=0.0),
    "space": dict(**NO_TEMPERATURE, binarize="weights_and_activations", kd_weight=0.0),
    "space_temp": dict(binarize="weights_and_activations", kd_weight=0.0),
    "full": dict(binarize="activations", kd_weight=1.0),
}
"""What each variant switches on; the temperature of space_temp and full comes from the command line."""
WITH_TEMPERATURE = ("space_temp", "full")


def variant_settings(args: argparse.Namespace, variant: str) -> dict:
    settings = dict(VARIANTS[variant], arch_learning_rate=args.arch_learning_rate,
                    arch_warmup_epochs=args.arch_warmup_epochs)
    if variant in WITH_TEMPERATURE:
        settings.update(temperature=args.temperature, temperature_schedule=args.temperature_schedule,
                        final_temperature=args.final_temperature)
    return settings


def run_one(args: argparse.Namespace, variant: str, seed: int) -> dict:
    """Search (+ train) one (variant, seed) in this process; results cached in its directory."""
    import tfnas  # noqa: F401
    from tfnas.logs import quiet_tensorflow_logs

    quiet_tensorflow_logs()
    from tfnas.hardware.lce import binary_macs
    from tfnas.methods.bats import BatsSearchConfig, run_bats_search
    from tfnas.training.arch_summaries import parameter_free_count
    from tfnas.spaces.base import load_genotype
    from tfnas.training.model_io import load_trained_model
    from tfnas.training.trainer import TrainConfig, train_genotype

    out = os.path.join(args.output_dir, variant, f"seed{seed}")
    search = run_bats_search(BatsSearchConfig(
        output_dir=os.path.join(out, "search"), dataset=args.dataset, image_size=args.image_size, seed=seed,
        batch_size=args.batch_size, epochs=args.search_epochs, steps_per_epoch=args.search_steps,
        validation_steps=2, layers=args.search_layers, init_channels=args.search_channels, verbose=0,
        checkpoint_cells=False, deploy_init_channels=args.train_channels, **variant_settings(args, variant)))
    genotype_path = os.path.join(out, "search", "genotype.json")
    last = search["epochs"][-1]
    result = {"variant": variant, "seed": seed, "parameter_free_ops": parameter_free_count(load_genotype(genotype_path)),
              "search_time_s": search["total_wall_time_s"], "supernet_val_accuracy": last.get("val_accuracy"),
              "entropy": (last["entropy_normal"] + last["entropy_reduce"]) / 2, **search["discretization"],
              # when the parameter-free ops take the lead: the derived genotype's count after every epoch
              "parameter_free_ops_by_epoch": [e["parameter_free_ops"] for e in search["epochs"]],
              "entropy_by_epoch": [round((e["entropy_normal"] + e["entropy_reduce"]) / 2, 4) for e in search["epochs"]],
              "final_temperature_used": search["final_temperature_used"],
              "temperature_at_derivation": search["architecture"]["temperature"]}
    if args.train_epochs > 0:
        trained = train_genotype(TrainConfig(
            output_dir=os.path.join(out, "train"), genotype=genotype_path, dataset=args.dataset,
            image_size=args.image_size, seed=seed, batch_size=args.train_batch_size, epochs=args.train_epochs,
            steps_per_epoch=args.train_steps, layers=args.train_layers, init_channels=args.train_channels,
            optimizer="adam", learning_rate=2e-3, weight_decay=0.0, cutout=0, drop_path=0.0, auxiliary=False,
            binary=True, verbose=0))
        macs = binary_macs(load_trained_model(trained["model_dir"]))
        result.update(test_accuracy=trained["test_accuracy"], bops=macs["bops"], real_macs=macs["real_macs"],
                      train_time_s=trained["wall_time_s"])
    return result


def _mean_std(values: list[float]) -> dict:
    import numpy as np

    v = np.asarray(values, np.float64)
    return {"mean": round(float(v.mean()), 4), "std": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default="/tmp/bats_ablation")
    parser.add_argument("--dataset", default="mnist_embedded")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--image_size", type=int, default=16)
    parser.add_argument("--batch_size", type=int, default=32, help="search batch")
    parser.add_argument("--search_epochs", type=int, default=4)
    parser.add_argument("--search_steps", type=int, default=8)
    parser.add_argument("--search_layers", type=int, default=5)
    parser.add_argument("--search_channels", type=int, default=8)
    parser.add_argument("--train_batch_size", type=int, default=64)
    parser.add_argument("--train_epochs", type=int, default=2)
    parser.add_argument("--train_steps", type=int, default=25)
    parser.add_argument("--train_layers", type=int, default=5)
    parser.add_argument("--train_channels", type=int, default=32)
    parser.add_argument("--arch_learning_rate", type=float, default=3e-4, help="every variant's (DARTS' 3e-4)")
    parser.add_argument("--arch_warmup_epochs", type=int, default=0, help="every variant's: weights-only epochs first")
    parser.add_argument("--temperature", type=float, default=0.2, help="space_temp and full: T at epoch 0")
    parser.add_argument("--temperature_schedule", default="constant")
    parser.add_argument("--final_temperature", type=float, default=None)
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (each is its own process)")
    parser.add_argument("--run_one", nargs=2, metavar=("VARIANT", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run_one:
        result = run_one(args, args.run_one[0], int(args.run_one[1]))
        print("RESULT " + json.dumps(result))
        return

    started = time.time()
    variants = args.variants.split(",")
    passthrough = [a for a in sys.argv[1:]]

    def run(task: tuple[int, str]) -> dict:
        seed, variant = task
        t0 = time.time()
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), *passthrough, "--run_one", variant,
                               str(seed)], capture_output=True, text=True, cwd=ROOT)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f"{variant} seed {seed} failed (exit {proc.returncode}); see {args.output_dir}")
        r = json.loads(lines[-1][len("RESULT "):])
        trained = f"acc {r['test_accuracy']:.4f} " if "test_accuracy" in r else ""
        print(f"{variant} seed {seed}: {trained}free-ops {r['parameter_free_ops']} gap {r['gap']:.4f} "
              f"search {r['search_time_s']:.0f}s (run {time.time() - t0:.0f}s)", flush=True)
        return r

    tasks = [(seed, variant) for seed in range(args.seeds) for variant in variants]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # runs are independent processes
        runs = list(pool.map(run, tasks))
    table = {}
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        keys = [k for k in REPORTED if all(k in r for r in mine)]
        table[variant] = {key: _mean_std([r[key] for r in mine]) for key in keys}
    acc = [table[v]["test_accuracy"]["mean"] for v in VARIANTS if v in table and "test_accuracy" in table[v]]
    ordering = len(acc) == len(VARIANTS) and all(a < b for a, b in zip(acc, acc[1:]))
    config = {k: v for k, v in vars(args).items() if k != "run_one"}
    print(json.dumps({"variants": table, "paper_ordering_reproduces": ordering,
                      "temperature_claim": temperature_claim(table), "runs": runs, "config": config,
                      "wall_time_s": round(time.time() - started, 1), "cpu_count": os.cpu_count()}))


REPORTED = ("test_accuracy", "parameter_free_ops", "gap", "mixing_gap", "derivation_gap", "supernet_accuracy",
            "argmax_accuracy", "derived_accuracy", "entropy", "bops", "real_macs", "search_time_s")


def temperature_claim(table: dict) -> dict | None:
    """BATS' temperature, space vs space_temp (means over seeds): fewer parameter-free ops and a smaller
    supernet-vs-derived gap with it. None unless both variants ran."""
    if "space" not in table or "space_temp" not in table:
        return None
    without, with_t = table["space"], table["space_temp"]
    fewer = with_t["parameter_free_ops"]["mean"] < without["parameter_free_ops"]["mean"]
    smaller = with_t["gap"]["mean"] < without["gap"]["mean"]
    return {"parameter_free_ops": {"without": without["parameter_free_ops"], "with": with_t["parameter_free_ops"]},
            "gap": {"without": without["gap"], "with": with_t["gap"]},
            "fewer_parameter_free_ops": fewer, "smaller_gap": smaller, "reproduces": fewer and smaller}


if __name__ == "__main__":
    main()
