"""How well PNAS' predictor ensembles rank unseen NAS-Bench-201 cells, refitted from scratch or warm.

For each of ``--splits`` random splits: ``--train`` random training cells in a random order and
``--test`` other random cells (all 15,625 cells are candidates, including the ones whose output is
disconnected). Two ways of arriving at a predictor trained on all ``--train`` cells, measured side
by side in one run, each with ``--seeds`` predictor seeds per split:

* ``cold``: one fit from scratch on all of them (``epochs`` passes), which is what every refit
  of a search did before refits were warm-started;
* ``warm``: the refits a search makes (``Surrogate.refit``, warm-started with fresh restarts):
  from scratch on the first ``--chain_start`` cells, then one refit per ``--chain_step`` more
  cells, up to all of them (the tabular SMBO's schedule: 20, 30, ..., 100).

Both are judged by the Spearman rank correlation between predicted and table CIFAR-10 test
accuracy on the held-out cells, for the LSTM and the MLP ensemble (5 members each, the paper's
D = 100, each member on a different 4/5 of the training cells) and "both" (the mean of the two),
under both target transforms: "rank" and "minmax" (the paper's plain regression of the accuracy
through the sigmoid). A predictor's seed moves the mean over 5 splits by up to ~0.01, so the
warm-minus-cold difference is reported with its standard error over the (split, seed) pairs.

  python benchmarks/pnas_surrogate.py          # the figures in docs/BENCHMARKS.md

The last printed line is one JSON object: mean (and per split) Spearman per refit, transform and
predictor, warm minus cold (mean, standard error), and the seconds of the fits.
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
from tfnas.hardware.litert import device_identity  # noqa: E402
from tfnas.search.surrogates import CategoricalTokens, Surrogate, spearman  # noqa: E402

PREDICTORS = (("lstm", "lstm"), ("mlp", "mlp"), ("both", "ensemble"))  # (reported name, predict_by_kind key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark_file", default=None)
    parser.add_argument("--objective", default="cifar10")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3, help="predictor seeds per split")
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--ensemble_size", type=int, default=5)
    parser.add_argument("--target_transforms", default="rank,minmax")
    parser.add_argument("--refits", default="cold,warm")
    parser.add_argument("--chain_start", type=int, default=20)
    parser.add_argument("--chain_step", type=int, default=10)
    parser.add_argument("--refit_epochs", type=int, default=None, help="warm refits' passes over the new cells "
                                                                      "(default: SurrogateConfig's)")
    parser.add_argument("--restart_growth", type=float, default=None,
                        help="fresh fit once the data grew this much (default: SurrogateConfig's; 0: never)")
    args = parser.parse_args()

    table = nb.NasBench201Table.load(args.benchmark_file)
    column = table.objective_column(args.objective)
    archs, y = table.all_archs(), table.values(column)
    encoder = CategoricalTokens(nb.nasbench201_space())
    sizes = list(range(args.chain_start, args.train, args.chain_step)) + [args.train]
    start = time.time()
    results: dict = {"objective": column, "train": args.train, "test": args.test, "splits": args.splits,
                     "seeds": args.seeds,
                     "ensemble_size": args.ensemble_size, "warm_fit_sizes": sizes, "spearman": {}, "per_split": {},
                     "fit_seconds": {}, "device": device_identity()}
    for transform in args.target_transforms.split(","):
        paired: dict[str, dict[str, list[float]]] = {}
        for refit in args.refits.split(","):
            config = dict(num_members=args.ensemble_size, target_transform=transform, refit=refit)
            if args.refit_epochs:
                config["refit_epochs"] = args.refit_epochs
            if args.restart_growth is not None:
                config["restart_growth"] = args.restart_growth or None
            surrogate = Surrogate(encoder, ("lstm", "mlp"), lstm=config, mlp=config)
            scores: dict[str, list[float]] = {name: [] for name, _ in PREDICTORS}
            fit_seconds = []
            for split in range(args.splits):
                perm = np.random.default_rng(split).permutation(len(archs))
                train, test = perm[: args.train], perm[args.train: args.train + args.test]
                x, x_test = [archs[i] for i in train], [archs[i] for i in test]
                for seed in range(args.seeds):
                    t = time.time()
                    if refit == "cold":
                        surrogate.fit(x, y[train], seed=100 * split + seed)
                    else:
                        surrogate.refit(x, y[train], sizes, seed=100 * split + seed)
                    fit_seconds.append(time.time() - t)
                    predicted = surrogate.predict_by_kind(x_test)
                    for name, key in PREDICTORS:
                        scores[name].append(spearman(predicted[key], y[test]))
                print(f"{transform:6s} {refit:4s} split {split}: " + " ".join(
                    f"{k}={np.mean(v[-args.seeds:]):.3f}" for k, v in scores.items()), flush=True)
            label = f"{transform}/{refit}"
            paired[refit] = scores
            results["spearman"][label] = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
            results["per_split"][label] = {k: [round(float(np.mean(v[i: i + args.seeds])), 4)
                                               for i in range(0, len(v), args.seeds)] for k, v in scores.items()}
            # the first fit includes building and tracing the predictors
            results["fit_seconds"][label] = round(float(np.mean(fit_seconds[1:] or fit_seconds)), 2)
            print(f"{label:11s} mean: " + " ".join(f"{k}={v:.3f}" for k, v in results["spearman"][label].items()),
                  flush=True)
        if "warm" in paired and "cold" in paired:
            diff = {k: np.subtract(paired["warm"][k], paired["cold"][k]) for k, _ in PREDICTORS}
            results.setdefault("warm_minus_cold", {})[transform] = {
                k: {"mean": round(float(d.mean()), 4), "stderr": round(float(d.std(ddof=1) / np.sqrt(len(d))), 4)}
                for k, d in diff.items()}
            print(f"{transform:6s} warm - cold: " + " ".join(
                f"{k}={d.mean():+.4f} (se {d.std(ddof=1) / np.sqrt(len(d)):.4f})" for k, d in diff.items()), flush=True)
    results["seconds"] = round(time.time() - start, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
