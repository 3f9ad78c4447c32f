"""What PNAS' predictor refits cost over a search: warm-started (with fresh restarts) vs from scratch.

Runs the tabular SMBO (NAS-Bench-201, CIFAR-10, the binary's predictor: MLP ensemble of 5, rank
targets, a random first batch of 20 and batches of 10) for each ``--budgets`` and each refit mode,
and reports the predictor's minibatch steps (a deterministic count: what the refits cost on any
machine), the seconds spent refitting (the first refit includes tracing the predictor) and predicting,
the whole search's seconds and the best accuracy found. Refitting from scratch trains ``epochs`` passes over all results at every refit,
so its steps grow with the square of the budget; warm refits train on what is new and restart
from scratch only when the results have grown 1.25-fold, so theirs grow linearly.

  python benchmarks/pnas_refit_cost.py          # the figures in docs/BENCHMARKS.md

The last printed line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfnas  # noqa: E402,F401

from tfnas.benchmarks import nasbench201 as nb  # noqa: E402
from tfnas.hardware.litert import device_identity  # noqa: E402
from tfnas.search.pnas import SMBOSearcher  # noqa: E402
from tfnas.search.surrogates import CategoricalTokens, Surrogate  # noqa: E402


class _Timed:
    """Seconds spent in a method of one object (the searcher's refit and predict calls)."""

    def __init__(self, obj, name: str):
        self.seconds, self._method = 0.0, getattr(obj, name)
        setattr(obj, name, self)

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self._method(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark_file", default=None)
    parser.add_argument("--budgets", default="100,300")
    parser.add_argument("--refits", default="warm,cold")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    evaluator = nb.load_evaluator(args.benchmark_file, "cifar10")
    results: dict = {"seed": args.seed, "runs": [], "device": device_identity()}
    for budget in [int(b) for b in args.budgets.split(",")]:
        for refit in args.refits.split(","):
            surrogate = Surrogate(CategoricalTokens(evaluator.space()), ("mlp",),
                                  mlp={"target_transform": "rank", "refit": refit})
            network = surrogate.ensembles["mlp"].network
            fit, predict = _Timed(surrogate, "refit"), _Timed(surrogate, "predict_by_kind")
            searcher = SMBOSearcher(evaluator.space(), evaluator.metric, seed=args.seed,
                                    surrogate_factory=lambda encoder: surrogate)
            start, best = time.perf_counter(), float("-inf")
            for _ in range(budget):
                arch = searcher.ask(1)[0]
                metrics = evaluator.evaluate(arch)
                searcher.tell(arch, metrics)
                best = max(best, metrics[evaluator.metric])
            run = {"budget": budget, "refit": refit, "refits": len(searcher.fit_sizes), "steps": network.steps_run,
                   "refit_seconds": round(fit.seconds, 2), "predict_seconds": round(predict.seconds, 2),
                   "search_seconds": round(time.perf_counter() - start, 2), "best": best}
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
