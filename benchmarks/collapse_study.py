"""Single-DARTS vs DARTS (first order): does single-level search avoid the collapse bi-level search shows?

Single-DARTS (Hou & Jin 2021) claims that DARTS' collapse (skip connections, pooling or ``none``
filling the derived cell) comes from bi-level optimisation and that updating weights and
architecture from the same batch removes it. This study searches the NAS-Bench-201 cell space
over the embedded MNIST data with both methods, ``--seeds`` seeds each, at the same budget (the
same epochs, steps per epoch, batch, network and optimiser settings), and records per epoch:

  parameter_free   parameter-free ops (skip_connect, avg_pool_3x3, none) among the 6 edges of
                   the cell derived at the end of that epoch
  cifar10          that cell's NAS-Bench-201 CIFAR-10 test accuracy (the table in
                   ../shared/benchdata/nasbench201.csv, or $TFNAS_BENCHDATA; --benchmark_file)
  entropy_ratio    mean edge entropy of the op distributions / uniform (1.0: alpha has not moved)

Rows: ``single_darts`` (--train_portion=0.5, the same weight data as DARTS), ``single_darts_full``
(--train_portion=1.0: single level needs no held-out half) and ``darts`` (bi-level, first order).
Every run is the search binary itself (``binaries.search_single_darts`` / ``search_darts``) in its
own subprocess with its own output directory, so re-running the study resumes unfinished runs and
reuses finished ones. The plot (mean line, min-max band over seeds) goes to --plot.

  python benchmarks/collapse_study.py                      # the figures in docs/BENCHMARKS.md
  python benchmarks/collapse_study.py --seeds=2 --epochs=3 --rows=single_darts,darts

The last printed line is one JSON object with all figures.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

ROWS = {
    "single_darts": ("binaries.search_single_darts", {"train_portion": 0.5}),
    "single_darts_full": ("binaries.search_single_darts", {"train_portion": 1.0}),
    "darts": ("binaries.search_darts", {"train_portion": 0.5, "order": 1}),
}
"""Row name -> (search binary, the flags that differ between rows)."""


def cpu_model() -> str:
    from tfnas.hardware.litert import device_identity  # noqa: E402  (the one CPU-model reader)

    return device_identity()["cpu_model"]


def run_search(row: str, seed: int, args: argparse.Namespace) -> dict:
    """One search (resumed if its directory holds a partial run); returns its search_summary.json."""
    binary, row_flags = ROWS[row]
    out = os.path.join(args.output_dir, row, f"seed{seed}")
    summary_path = os.path.join(out, "search_summary.json")
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
        if len(summary["epochs"]) == args.epochs:
            return summary
    shared = {"space": "nasbench201", "dataset": "mnist_embedded", "output_dir": out, "seed": seed,
              "epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch, "batch_size": args.batch_size,
              "layers": args.layers, "init_channels": args.init_channels, "verbose": 0}
    for name in ("arch_learning_rate", "arch_weight_decay", "arch_step_budget", "validation_steps", "data_dir"):
        if getattr(args, name) is not None:
            shared[name] = getattr(args, name)
    command = [sys.executable, "-m", binary] + [f"--{k}={v}" for k, v in {**shared, **row_flags}.items()]
    started = time.time()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"{row} seed {seed} failed (exit {result.returncode}): {' '.join(command)}")
    print(f"{row:18s} seed {seed}: {time.time() - started:.0f} s", flush=True)
    with open(summary_path) as f:
        return json.load(f)


def curves(summary: dict, table) -> dict[str, list[float]]:
    """Per-epoch parameter-free op count, NAS-Bench-201 CIFAR-10 accuracy and entropy ratio of one run."""
    from tfnas.benchmarks.nasbench201 import arch_from_string
    from tfnas.training.arch_summaries import parameter_free_count
    from tfnas.spaces.nasbench201 import NasBench201Genotype, OPS

    uniform = float(np.log(len(OPS)))
    out: dict[str, list[float]] = {"parameter_free": [], "cifar10": [], "entropy_ratio": []}
    for epoch in summary["epochs"]:
        arch = epoch["genotype"]["arch"]
        out["parameter_free"].append(parameter_free_count(NasBench201Genotype.from_arch_string(arch)))
        out["cifar10"].append(table.row(arch_from_string(arch))["cifar10_test_acc"])
        out["entropy_ratio"].append(epoch["entropy_cell"] / uniform)
    return out


def plot(results: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4), dpi=100)
    labels = {"parameter_free": "parameter-free ops in the derived cell (of 6)",
              "cifar10": "NAS-Bench-201 CIFAR-10 test accuracy of the cell (%)",
              "entropy_ratio": "mean edge entropy / uniform"}
    for ax, metric in zip(axes, labels):
        for row, data in results.items():
            values = np.array(data["per_seed"][metric], dtype=float)  # [seeds, epochs]
            epochs = np.arange(1, values.shape[1] + 1)
            line, = ax.plot(epochs, values.mean(0), marker="o", ms=3, label=row)
            ax.fill_between(epochs, values.min(0), values.max(0), color=line.get_color(), alpha=0.15)
        ax.set_xlabel("search epoch")
        ax.set_title(labels[metric], fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output_dir", default="/tmp/tfnas_collapse_study")
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps_per_epoch", type=int, default=31,
                        help="the same for every row (31 = one pass over the 2,000-image half at batch 64)")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=1, help="NAS-Bench-201 search network: cells per stage")
    parser.add_argument("--init_channels", type=int, default=8)
    parser.add_argument("--arch_learning_rate", type=float, default=None, help="default: the binaries' default")
    parser.add_argument("--arch_weight_decay", type=float, default=None, help="default: the binaries' default")
    parser.add_argument("--arch_step_budget", type=float, default=None, help="default: the binaries' default")
    parser.add_argument("--validation_steps", type=int, default=8)
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--benchmark_file", default=None, help="nasbench201.csv (default: the shared benchdata)")
    parser.add_argument("--plot", default=os.path.join(ROOT, "docs", "collapse_study.png"))
    args = parser.parse_args()
    rows = args.rows.split(",")
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {list(ROWS)}")

    import tfnas  # noqa: F401
    from tfnas.benchmarks.nasbench201 import NasBench201Table

    table = NasBench201Table.load(args.benchmark_file)
    started = time.time()
    results: dict = {}
    for seed in range(args.seeds):  # seed-major, so an interrupted study has every row for its first seeds
        for row in rows:
            run_search(row, seed, args)
    for row in rows:
        per_seed: dict[str, list] = {"parameter_free": [], "cifar10": [], "entropy_ratio": []}
        finals, seconds, configs = [], [], []
        for seed in range(args.seeds):
            summary = run_search(row, seed, args)
            for metric, values in curves(summary, table).items():
                per_seed[metric].append(values)
            finals.append(summary["genotype"]["arch"])
            seconds.append(summary["wall_time_s"])
            configs.append({k: summary["config"][k] for k in ("arch_learning_rate", "arch_weight_decay",
                                                                "train_portion")}
                           | {"resolved_arch_learning_rate": summary.get("resolved_arch_learning_rate")})
        last = {m: np.array(v, dtype=float)[:, -1] for m, v in per_seed.items()}
        results[row] = {
            "final": {m: {"mean": round(float(v.mean()), 3), "std": round(float(v.std()), 3)} for m, v in last.items()},
            "per_epoch_mean": {m: [round(float(x), 3) for x in np.array(v, dtype=float).mean(0)]
                               for m, v in per_seed.items()},
            "final_cells": finals, "distinct_final_cells": len(set(finals)),
            "search_seconds_mean": round(float(np.mean(seconds)), 1), "settings": configs[0],
            "per_seed": per_seed,
        }
        f = results[row]["final"]
        print(f"{row:18s} final: parameter-free {f['parameter_free']['mean']:.2f} +- {f['parameter_free']['std']:.2f}, "
              f"CIFAR-10 {f['cifar10']['mean']:.2f} +- {f['cifar10']['std']:.2f}, entropy/uniform "
              f"{f['entropy_ratio']['mean']:.3f}; {len(set(finals))} distinct cells over {args.seeds} seeds", flush=True)

    budget = (f"{args.epochs} epochs x {args.steps_per_epoch} steps, batch {args.batch_size}, "
              f"N={args.layers}, C={args.init_channels}")
    plot(results, args.plot, f"NAS-Bench-201 space on mnist_embedded, {args.seeds} seeds (line: mean, band: "
                             f"min-max); {budget}")
    verdict = None
    if "single_darts" in results and "darts" in results:
        sd, dr = results["single_darts"]["final"], results["darts"]["final"]
        verdict = {"fewer_parameter_free_ops": sd["parameter_free"]["mean"] < dr["parameter_free"]["mean"],
                   "better_cifar10_cell": sd["cifar10"]["mean"] > dr["cifar10"]["mean"],
                   "darts_collapses": dr["parameter_free"]["mean"] >= 4.5}
    print(json.dumps({"budget": budget, "seeds": args.seeds, "rows": results, "verdict": verdict,
                      "plot": os.path.relpath(args.plot, ROOT), "cpu": cpu_model(),
                      "seconds": round(time.time() - started, 1)}))


if __name__ == "__main__":
    main()
