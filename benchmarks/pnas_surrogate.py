"""How well PNAS' predictor ensembles rank unseen NAS-Bench-201 cells.

For each of ``--splits`` random splits: train the LSTM and the MLP ensemble (5 members each,
the paper's D = 100, each member on a different 4/5 of the training cells) on ``--train``
random cells, and report the Spearman rank correlation between predicted and table CIFAR-10
test accuracy on ``--test`` other random cells (all 15,625 cells are candidates, including the
ones whose output is disconnected). "both" is the mean of the two ensembles' predictions.
Both target transforms are measured: "rank" (the default) and "minmax" (the paper's plain
regression of the accuracy through the sigmoid).

  python benchmarks/pnas_surrogate.py          # the figures in docs/BENCHMARKS.md

The last printed line is one JSON object with the mean (and per split) Spearman per predictor.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfnas  # noqa: E402,F401

import numpy as np  # noqa: E402

from tfnas.benchmarks import nasbench201 as nb  # noqa: E402
from tfnas.search.surrogates import CategoricalTokens, Surrogate, spearman  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark_file", default=None)
    parser.add_argument("--objective", default="cifar10")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--ensemble_size", type=int, default=5)
    parser.add_argument("--target_transforms", default="rank,minmax")
    args = parser.parse_args()

    table = nb.NasBench201Table.load(args.benchmark_file)
    column = table.objective_column(args.objective)
    archs, y = table.all_archs(), table.values(column)
    encoder = CategoricalTokens(nb.nasbench201_space())
    start = time.time()
    results: dict = {"objective": column, "train": args.train, "test": args.test, "splits": args.splits,
                     "ensemble_size": args.ensemble_size, "spearman": {}, "per_split": {}, "fit_seconds": {}}
    for transform in args.target_transforms.split(","):
        config = dict(num_members=args.ensemble_size, target_transform=transform)
        surrogate = Surrogate(encoder, ("lstm", "mlp"), lstm=config, mlp=config)
        scores: dict[str, list[float]] = {"lstm": [], "mlp": [], "both": []}
        fit_seconds = []
        for split in range(args.splits):
            perm = np.random.default_rng(split).permutation(len(archs))
            train, test = perm[: args.train], perm[args.train: args.train + args.test]
            t = time.time()
            surrogate.fit([archs[i] for i in train], y[train], seed=split)
            fit_seconds.append(time.time() - t)
            predicted = surrogate.predict_by_kind([archs[i] for i in test])
            for kind, key in (("lstm", "lstm"), ("mlp", "mlp"), ("both", "ensemble")):
                scores[kind].append(spearman(predicted[key], y[test]))
            print(f"{transform:6s} split {split}: " + " ".join(f"{k}={v[-1]:.3f}" for k, v in scores.items())
                  + f"  (fit both ensembles {fit_seconds[-1]:.1f}s)", flush=True)
        results["spearman"][transform] = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
        results["per_split"][transform] = {k: [round(x, 4) for x in v] for k, v in scores.items()}
        results["fit_seconds"][transform] = round(float(np.mean(fit_seconds[1:] or fit_seconds)), 2)
        print(f"{transform:6s} mean: " + " ".join(f"{k}={v:.3f}" for k, v in results["spearman"][transform].items()),
              flush=True)
    results["seconds"] = round(time.time() - start, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
