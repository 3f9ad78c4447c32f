"""Does the main job's search decide the same cell for different seeds? (issue 13.2)

    python benchmarks/main_job_seeds.py --output_dir=runs/main_job_seeds --seeds=0,1,2 [-- quickstart flags]

Runs the main job (``binaries.quickstart``, its default search: Single-DARTS over NAS-Bench-201
cells on mnist_embedded) once per seed, each in its own process and output directory (a finished
one is reused: the main job reports its stored result when re-run with the same settings). Flags
after ``--`` go to every run unchanged (e.g. ``--train_epochs=1`` when only the search is of
interest: the search does not depend on the training stage).

Per seed: the genotype, its NAS-Bench-201 CIFAR-10 accuracy, the mean edge entropy over uniform.
Across seeds: how many of the 6 edges agree with the most common op on that edge, and whether
every seed derived the same cell. The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def edge_ops(arch: str) -> list[str]:
    """``|op~0|+|op~0|op~1|+...`` -> the 6 ops in edge order."""
    return [token.split("~")[0] for token in arch.replace("+", "").split("|") if token]


def agreement(archs: list[str]) -> dict:
    """Per edge, the most common op and how many seeds chose it; edges on which every seed agrees."""
    per_edge = list(zip(*(edge_ops(a) for a in archs)))
    majority = [collections.Counter(ops).most_common(1)[0] for ops in per_edge]
    return {"edges": len(per_edge),
            "edges_all_seeds_agree": sum(count == len(archs) for _, count in majority),
            "majority_ops": [op for op, _ in majority],
            "majority_counts": [count for _, count in majority],
            "same_cell_for_every_seed": len(set(archs)) == 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--seeds", default="0,1,2")
    args, passthrough = parser.parse_known_args()
    passthrough = [a for a in passthrough if a != "--"]
    load_start = os.getloadavg()
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        out = os.path.join(os.path.abspath(args.output_dir), f"seed{seed}")
        started = time.time()
        subprocess.run([sys.executable, "-m", "binaries.quickstart", f"--output_dir={out}", f"--seed={seed}",
                        *passthrough], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        decision = summary["search"]["decision"]
        lookup = summary.get("nasbench201_lookup") or {}
        run = {"seed": seed, "genotype": summary["genotype"], "entropy_ratio": decision["entropy_ratio"],
               "nasbench201_cifar10_test_acc": lookup.get("cifar10_test_acc"),
               "search_wall_s": summary["search"]["wall_time_s"], "process_wall_s": time.time() - started}
        runs.append(run)
        print(f"seed {seed}: {run['genotype']} entropy {run['entropy_ratio']:.3f} x uniform, "
              f"NAS-Bench-201 CIFAR-10 {run['nasbench201_cifar10_test_acc']}", flush=True)
    result = {"runs": runs, **agreement([r["genotype"] for r in runs]),
              "max_entropy_ratio": max(r["entropy_ratio"] for r in runs),
              "passthrough": passthrough, "load_average_start": load_start, "load_average_end": os.getloadavg()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
