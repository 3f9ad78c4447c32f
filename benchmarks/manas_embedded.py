"""MANAS' supernet mode on the embedded MNIST data: do the agents beat the uniform baseline?

For every agent (exp3, least_squares, uniform) and seed: a supernet search (``run_manas_search``,
per-cell agents) on ``mnist_embedded``, then the derived genotype trained from scratch with one
fixed budget (``train_genotype``, the DARTS recipe at a small size), then its test accuracy, its
parameter-free op count and its parameters. Everything is the same for every run but the agent
and the seed (search and training seeds alike), so differences come from what the agents chose.
Each run lives in its own directory under --output_dir and resumes when the script is re-run.

Usage:
  python benchmarks/manas_embedded.py --output_dir=/tmp/manas_study [--seeds 3] [--layers 5]
      [--init_channels 4] [--image_size 16] [--batch_size 32] [--search_epochs 2] [--train_epochs 4]
      [--train_channels 8]
Last line: one JSON object with every run, the per-agent means and the comparison with uniform.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

AGENTS = ("exp3", "least_squares", "uniform")


def run_one(args, agent: str, seed: int) -> dict:
    import numpy as np

    from tfnas.methods.manas import ManasConfig, run_manas_search
    from tfnas.training.trainer import TrainConfig, train_genotype

    root = os.path.join(args.output_dir, f"{agent}_seed{seed}")
    started = time.time()
    search = run_manas_search(ManasConfig(
        output_dir=os.path.join(root, "search"), agent=agent, seed=seed, dataset="mnist_embedded",
        data_dir=args.data_dir, image_size=args.image_size, layers=args.layers, init_channels=args.init_channels,
        batch_size=args.batch_size, epochs=args.search_epochs, steps_per_epoch=args.steps_per_epoch,
        heatmap_every=10_000, checkpoint_every=25))
    search_s = time.time() - started
    started = time.time()
    trained = train_genotype(TrainConfig(
        output_dir=os.path.join(root, "train"), genotype=os.path.join(root, "search", "genotype.json"),
        dataset="mnist_embedded", data_dir=args.data_dir, image_size=args.image_size, seed=seed,
        batch_size=args.batch_size, epochs=args.train_epochs, init_channels=args.train_channels,
        auxiliary=False, drop_path=0.0, cutout=0, verbose=0))
    train_s = time.time() - started
    losses = [h["val_loss"] for h in search["history"]]
    quarter = max(1, len(losses) // 4)
    return {"agent": agent, "seed": seed, "test_accuracy": round(trained["test_accuracy"], 4),
            "params": trained["params"], "parameter_free_ops": search["parameter_free_ops"],
            "rounds": search["rounds"], "search_wall_s": round(search["wall_time_s"], 1),
            "train_wall_s": round(trained["wall_time_s"], 1), "this_call_s": round(search_s + train_s, 1),
            "sampled_val_loss_first_quarter": round(float(np.mean(losses[:quarter])), 4),
            "sampled_val_loss_last_quarter": round(float(np.mean(losses[-quarter:])), 4),
            "final_mean_entropy": round(search["agents"]["mean_entropy"], 4),
            "genotype": search["genotype"]}


def aggregate(rows: list[dict]) -> dict:
    import numpy as np

    out = {}
    for agent in AGENTS:
        mine = [r for r in rows if r["agent"] == agent]
        if not mine:
            continue
        acc = np.array([r["test_accuracy"] for r in mine])
        out[agent] = {"runs": len(mine), "test_accuracy_mean": round(float(acc.mean()), 4),
                      "test_accuracy_std": round(float(acc.std(ddof=1)) if len(acc) > 1 else 0.0, 4),
                      "parameter_free_ops_mean": round(float(np.mean([r["parameter_free_ops"] for r in mine])), 2),
                      "params_mean": round(float(np.mean([r["params"] for r in mine])), 1),
                      "sampled_val_loss_last_quarter_mean": round(float(np.mean(
                          [r["sampled_val_loss_last_quarter"] for r in mine])), 4),
                      "final_mean_entropy": round(float(np.mean([r["final_mean_entropy"] for r in mine])), 4)}
    if "uniform" in out:
        base = out["uniform"]
        for agent in ("exp3", "least_squares"):
            if agent in out:
                diff = out[agent]["test_accuracy_mean"] - base["test_accuracy_mean"]
                noise = max(out[agent]["test_accuracy_std"], base["test_accuracy_std"])
                out[agent]["minus_uniform"] = round(diff, 4)
                out[agent]["beats_uniform"] = bool(diff > noise)  # by more than either's seed-to-seed spread
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--agents", default=",".join(AGENTS))
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--init_channels", type=int, default=4)
    parser.add_argument("--image_size", type=int, default=16)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--search_epochs", type=int, default=2)
    parser.add_argument("--steps_per_epoch", type=int, default=None)
    parser.add_argument("--train_epochs", type=int, default=4)
    parser.add_argument("--train_channels", type=int, default=8)
    args = parser.parse_args()

    import tfnas  # noqa: F401
    from tfnas.hardware.litert import device_identity

    load = [os.getloadavg()]
    rows = []
    for seed in range(args.seeds):  # seed-major: a study cut short still compares every agent
        for agent in args.agents.split(","):
            rows.append(run_one(args, agent, seed))
            load.append(os.getloadavg())
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "genotype"}), flush=True)
    result = {"runs": rows, "by_agent": aggregate(rows), "cpu": device_identity()["cpu_model"],
              "cpu_count": os.cpu_count(),
              "load_average_1min": [round(l[0], 2) for l in load], "config": vars(args)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
