"""Search quality on tabular NAS-Bench-201: random search, regularized evolution, PNAS' SMBO core.

For every objective (CIFAR-10, CIFAR-100, ImageNet16-120 test accuracy) and searcher, runs
``--seeds`` searches and reports the mean test accuracy of the best cell found after each
budget, and the number of evaluations until the table's optimum was found. A search stops early
once it has found the optimum (it cannot improve; later budgets then hold the optimum) or at its
cap (``--max_evaluations``; PNAS, whose predictor refits make evaluations costlier, at
``--pnas_max_evaluations``). Searches that never found the optimum within the cap are reported
as such (``found``), and the mean evaluations are over the seeds that found it.

With ``--device``/``--max_latency_ms`` it also runs the latency-limited check: every evaluated
cell must meet the limit, and the mean gap between the best found after ``--latency_budget``
evaluations and the best feasible cell of the table is reported (the bar: <= 0.3 points).

  python benchmarks/nb201_search.py                         # the figures in docs/BENCHMARKS.md
  python benchmarks/nb201_search.py --seeds=3 --objectives=cifar10 --searchers=random,pnas_smbo

The last printed line is one JSON object with all figures.
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
from tfnas.search.evolution import RegularizedEvolution  # noqa: E402
from tfnas.search.pnas import SMBOSearcher  # noqa: E402
from tfnas.search.random import RandomSearch  # noqa: E402
from tfnas.search.surrogates import Surrogate  # noqa: E402

SEARCHERS = ("random", "evolution", "evolution_dedup", "pnas_smbo", "pnas_smbo_lstm", "pnas_smbo_minmax",
             "pnas_smbo_cold")
"""pnas_smbo: MLP ensemble, rank targets, warm-started refits (the binary's tabular defaults); _lstm: LSTM
ensemble; _minmax: the paper's plain regression of the accuracy; _cold: every refit from scratch (the
behaviour before refits were warm-started)."""


def make_searcher(name: str, space, metric: str, seed: int, surrogates: dict, population_size: int = 10,
                  tournament_size: int = 5):
    if name == "random":
        return RandomSearch(space, metric, seed)
    if name in ("evolution", "evolution_dedup"):
        return RegularizedEvolution(space, metric, seed, population_size=population_size,
                                    tournament_size=tournament_size, deduplicate=name == "evolution_dedup")
    kind = "lstm" if name == "pnas_smbo_lstm" else "mlp"
    config = {"target_transform": "minmax" if name == "pnas_smbo_minmax" else "rank",
              "refit": "cold" if name == "pnas_smbo_cold" else "warm"}

    def factory(encoder):
        # One built predictor per variant for all runs: a predictor replays a searcher's refits unless
        # its weights came from exactly those, so sharing changes no result and saves a build per search.
        if name not in surrogates:
            surrogates[name] = Surrogate(encoder, (kind,), **{kind: config})
        return surrogates[name]

    return SMBOSearcher(space, metric, seed, batch_size=10, initial_size=20, surrogate_factory=factory)


def run_one(searcher, evaluator, optimum: float, cap: int, check_latency: bool) -> tuple[list[float], int | None, bool]:
    """Best-so-far curve (length cap; padded with the optimum after an early stop), evaluations to
    the optimum (None if not reached), and whether every evaluated cell met the latency limit."""
    best, curve, found, feasible = -np.inf, [], None, True
    while len(curve) < cap:
        arch = searcher.ask(1)[0]
        metrics = evaluator.evaluate(arch)
        searcher.tell(arch, metrics)
        if check_latency:
            feasible &= metrics[evaluator.latency_metric] <= evaluator.max_latency_ms
        best = max(best, metrics[evaluator.metric])
        curve.append(best)
        if best >= optimum - 1e-9:
            found = len(curve)
            break
    curve += [best] * (cap - len(curve))
    return curve, found, feasible


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark_file", default=None)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--objectives", default="cifar10,cifar100,imagenet16_120",
                        help="comma-separated; empty: only the latency check")
    parser.add_argument("--searchers", default="random,evolution,evolution_dedup,pnas_smbo")
    parser.add_argument("--budgets", default="25,50,100,150,300")
    parser.add_argument("--max_evaluations", type=int, default=3000, help="cap for random search / evolution")
    parser.add_argument("--pnas_max_evaluations", type=int, default=300, help="cap for the PNAS SMBO runs")
    parser.add_argument("--device", default="pixel3")
    parser.add_argument("--max_latency_ms", type=float, default=8.0)
    parser.add_argument("--latency_budget", type=int, default=300)
    parser.add_argument("--latency_objective", default="cifar10")
    parser.add_argument("--evolution_population_size", type=int, default=10)
    parser.add_argument("--evolution_tournament_size", type=int, default=5)
    args = parser.parse_args()
    searchers = args.searchers.split(",")
    unknown = [s for s in searchers if s not in SEARCHERS]
    if unknown:
        parser.error(f"unknown searchers {unknown}; choose from {SEARCHERS}")
    budgets = [int(b) for b in args.budgets.split(",")]
    table = nb.NasBench201Table.load(args.benchmark_file)
    surrogates: dict = {}
    start = time.time()
    results: dict = {"seeds": args.seeds, "budgets": budgets, "mean_best": {}, "std_best": {},
                     "evaluations_to_optimum": {}, "optimum": {}, "seconds_per_searcher": {},
                     "device": device_identity()}

    def cap_for(name: str) -> int:
        return args.pnas_max_evaluations if name.startswith("pnas") else args.max_evaluations

    evolution = dict(population_size=args.evolution_population_size, tournament_size=args.evolution_tournament_size)
    results["evolution"] = evolution
    for objective in [o for o in args.objectives.split(",") if o]:
        evaluator = nb.NasBench201Evaluator(table, objective)
        optimum = evaluator.best_feasible()[1]
        results["optimum"][objective] = optimum
        for name in searchers:
            t = time.time()
            curves, found = [], []
            for seed in range(args.seeds):
                searcher = make_searcher(name, evaluator.space(), evaluator.metric, seed, surrogates, **evolution)
                curve, hit, _ = run_one(searcher, evaluator, optimum, cap_for(name), False)
                curves.append(curve)
                found.append(hit)
            curves = np.array(curves)
            results["mean_best"].setdefault(objective, {})[name] = {
                b: round(float(curves[:, b - 1].mean()), 4) for b in budgets if b <= curves.shape[1]}
            results["std_best"].setdefault(objective, {})[name] = {
                b: round(float(curves[:, b - 1].std()), 4) for b in budgets if b <= curves.shape[1]}
            results["seconds_per_searcher"].setdefault(objective, {})[name] = round(time.time() - t, 1)
            hits = [h for h in found if h is not None]
            results["evaluations_to_optimum"].setdefault(objective, {})[name] = {
                "found": f"{len(hits)}/{args.seeds}", "cap": cap_for(name),
                "mean": round(float(np.mean(hits)), 1) if hits else None,
                "median": float(np.median(hits)) if hits else None}
            print(f"{objective:15s} {name:16s} " + " ".join(
                f"@{b}={v:.2f}" for b, v in results["mean_best"][objective][name].items())
                + f"  optimum found {len(hits)}/{args.seeds}, mean evals "
                f"{results['evaluations_to_optimum'][objective][name]['mean']}  ({time.time() - t:.0f}s)", flush=True)

    if args.max_latency_ms:
        evaluator = nb.NasBench201Evaluator(table, args.latency_objective, args.device, args.max_latency_ms)
        best_feasible = evaluator.best_feasible()[1]
        latency: dict = {"device": args.device, "max_latency_ms": args.max_latency_ms,
                         "objective": args.latency_objective, "budget": args.latency_budget,
                         "best_feasible": best_feasible, "table_optimum": table.values(evaluator.metric).max(),
                         "feasible_cells": int(evaluator.feasible_mask().sum()), "searchers": {}}
        for name in searchers:
            t = time.time()
            bests, all_feasible = [], True
            for seed in range(args.seeds):
                searcher = make_searcher(name, evaluator.space(), evaluator.metric, seed, surrogates, **evolution)
                curve, _, feasible = run_one(searcher, evaluator, best_feasible, args.latency_budget, True)
                bests.append(curve[-1])
                all_feasible &= feasible
            gap = best_feasible - float(np.mean(bests))
            latency["searchers"][name] = {"mean_best": round(float(np.mean(bests)), 4), "gap": round(gap, 4),
                                          "all_within_limit": bool(all_feasible)}
            print(f"latency {args.device}<={args.max_latency_ms}ms {name:16s} mean best {np.mean(bests):.4f} "
                  f"(best feasible {best_feasible:.4f}, gap {gap:.3f}), all within limit: {all_feasible} "
                  f"({time.time() - t:.0f}s)", flush=True)
        results["latency"] = latency
    results["seconds"] = round(time.time() - start, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
