"""MANAS agents on tabular NAS-Bench-201: do they learn, and do they beat random search?

For every agent (exp3 = MANAS, least_squares = MANAS-LS, uniform = the random baseline through
the same code) and every budget T (default 100 and 300 rounds), runs ``--seeds`` searches of
exactly T rounds with ``tfnas.search.manas.ManasSearcher`` as the binary configures it (EXP3's
default eta depends on T, so each budget is its own run), and reports the mean over seeds of

* ``best_sampled``: the best test accuracy among the architectures sampled so far, beside random
  search (``RandomSearch``, no repeats) and regularized evolution (P = 10, S = 5) at the same
  number of evaluations;
* ``recommended``: the test accuracy of the agents' recommendation (argmax of every agent's
  distribution), beside evolution's answer (its best evaluated architecture);
* cumulative regret against the table's optimum, in accuracy points: sum over rounds of
  (optimum - accuracy of the sampled cell), from the longest budget's runs, with its log-log
  slope over T in [30, T] (1 = linear, 0.5 = sqrt(T)).

``--plot`` writes the regret curves (with a c*sqrt(T) reference, c the least-squares fit to
exp3's curve: a shape reference, not a bound) and the best-so-far curves as one PNG.

  python benchmarks/manas_regret.py --plot=docs/manas_regret.png      # the figures in docs/BENCHMARKS.md

The last printed line is one JSON object with all figures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from tfnas.benchmarks import nasbench201 as nb  # noqa: E402
from tfnas.search.evolution import RegularizedEvolution  # noqa: E402
from tfnas.search.manas import ManasSearcher  # noqa: E402
from tfnas.search.random import RandomSearch  # noqa: E402


def cpu_model() -> str:
    from tfnas.hardware.litert import device_identity  # noqa: E402  (the one CPU-model reader)

    return device_identity()["cpu_model"]


def run(searcher, evaluator, rounds: int) -> np.ndarray:
    """Accuracy of every evaluated architecture, in order."""
    values = []
    for _ in range(rounds):
        arch = searcher.ask(1)[0]
        metrics = evaluator.evaluate(arch)
        searcher.tell(arch, metrics)
        values.append(metrics[evaluator.metric])
    return np.array(values)


def stats(values) -> dict:
    values = np.asarray(values, np.float64)
    return {"mean": round(float(values.mean()), 4), "std": round(float(values.std(ddof=1)), 4),
            "sem": round(float(values.std(ddof=1) / np.sqrt(len(values))), 4)}


def beats(a: dict, b: dict) -> dict:
    """Is mean a > mean b, and by more than twice the standard error of the difference?"""
    diff = a["mean"] - b["mean"]
    se = float(np.hypot(a["sem"], b["sem"]))
    return {"difference": round(diff, 4), "beats": bool(diff > 0), "beyond_2_se": bool(diff > 2 * se)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark_file", default=None)
    parser.add_argument("--objective", default="cifar10")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budgets", default="100,300")
    parser.add_argument("--agents", default="exp3,least_squares,uniform")
    parser.add_argument("--exp3_etas", default="0.5",
                        help="extra exp3 rows with these fixed learning rates (sensitivity; not the default)")
    parser.add_argument("--loss_noise", type=float, default=0.0)
    parser.add_argument("--plot", default=None, help="write the regret / best-so-far figure to this PNG")
    args = parser.parse_args()
    budgets = sorted(int(b) for b in args.budgets.split(","))
    evaluator = nb.load_evaluator(args.benchmark_file, args.objective)
    space, metric = evaluator.space(), evaluator.metric
    _, optimum = evaluator.best_feasible()
    variants = [(a, None) for a in args.agents.split(",") if a]
    variants += [("exp3", float(e)) for e in args.exp3_etas.split(",") if e]
    start = time.time()
    results: dict = {"objective": args.objective, "optimum": optimum, "seeds": args.seeds, "budgets": budgets,
                     "loss": "1 - accuracy / 100", "loss_noise": args.loss_noise,
                     "regret_unit": "accuracy points against the table optimum", "cpu": cpu_model(),
                     "best_sampled": {}, "recommended": {}, "cumulative_regret": {}, "regret_loglog_slope": {},
                     "beats_random_best_sampled": {}}
    curves: dict = {}

    for budget in budgets:
        for name, make in (("random", lambda s: RandomSearch(space, metric, s)),
                           ("evolution", lambda s: RegularizedEvolution(space, metric, s, population_size=10,
                                                                        tournament_size=5))):
            t = time.time()
            runs = [run(make(seed), evaluator, budget) for seed in range(args.seeds)]
            best = [r.max() for r in runs]
            results["best_sampled"].setdefault(name, {})[budget] = stats(best)
            if name == "evolution":
                results["recommended"].setdefault(name, {})[budget] = stats(best)  # its answer is its best
            if budget == budgets[-1]:
                curves[name] = np.maximum.accumulate(np.array(runs), axis=1).mean(0)
            print(f"{name:22s} T={budget:4d} best sampled {np.mean(best):.2f} ({time.time() - t:.1f}s)", flush=True)
        for agent, eta in variants:
            label = agent if eta is None else f"{agent}_eta{eta:g}"
            t = time.time()
            runs, recommended = [], []
            for seed in range(args.seeds):
                searcher = ManasSearcher(space, metric, agent=agent, seed=seed, eta=eta, horizon=budget,
                                         loss_noise=args.loss_noise)
                runs.append(run(searcher, evaluator, budget))
                recommended.append(evaluator.evaluate(searcher.recommend())[metric])
            runs = np.array(runs)
            results["best_sampled"].setdefault(label, {})[budget] = stats(runs.max(axis=1))
            results["recommended"].setdefault(label, {})[budget] = stats(recommended)
            if label != "uniform":
                results["beats_random_best_sampled"].setdefault(label, {})[budget] = beats(
                    results["best_sampled"][label][budget], results["best_sampled"]["random"][budget])
            if budget == budgets[-1]:
                regret = np.cumsum(optimum - runs, axis=1).mean(0)
                curves[label] = np.maximum.accumulate(runs, axis=1).mean(0)
                curves[f"regret_{label}"] = regret
                results["cumulative_regret"][label] = {b: round(float(regret[b - 1]), 1) for b in
                                                       sorted({*budgets, budget // 2, 30}) if b <= budget}
                ts = np.arange(30, budget + 1)
                slope = np.polyfit(np.log(ts), np.log(regret[ts - 1]), 1)[0]
                results["regret_loglog_slope"][label] = round(float(slope), 3)
                half = budget // 2
                results["cumulative_regret"][label]["second_half_minus_first_half"] = round(
                    float(regret[-1] - 2 * regret[half - 1]), 1)
            print(f"{label:22s} T={budget:4d} best sampled {runs.max(axis=1).mean():.2f}  recommended "
                  f"{np.mean(recommended):.2f}  ({time.time() - t:.1f}s)", flush=True)

    if args.plot:
        plot(curves, budgets[-1], optimum, args, args.plot)
        results["plot"] = args.plot
    results["seconds"] = round(time.time() - start, 1)
    print(json.dumps(results))


def plot(curves: dict, budget: int, optimum: float, args, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(1, budget + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), dpi=110)
    colours = {"exp3": "tab:blue", "least_squares": "tab:orange", "uniform": "tab:gray", "random": "tab:green",
               "evolution": "tab:red"}
    for key, values in curves.items():
        if key.startswith("regret_"):
            label = key[len("regret_"):]
            left.plot(t, values, label=label, color=colours.get(label), lw=2 if label in colours else 1.3,
                      ls="-" if label in colours else "-.")
    if "regret_exp3" in curves:
        c = float(curves["regret_exp3"] @ np.sqrt(t) / t.sum())  # argmin_c sum_T (R(T) - c sqrt(T))^2
        left.plot(t, c * np.sqrt(t), "k--", lw=1, label=rf"${c:.0f}\sqrt{{T}}$ (least-squares fit to exp3)")
    left.set_xlabel("round T")
    left.set_ylabel(f"cumulative regret (accuracy points below {optimum:.2f})")
    left.set_title(f"Cumulative regret, NAS-Bench-201 {args.objective}, mean of {args.seeds} seeds", fontsize=10)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    for key, values in curves.items():
        if not key.startswith("regret_"):
            right.plot(t, values, label=key, color=colours.get(key), lw=2 if key in colours else 1.3,
                       ls="-" if key in colours else "-.")
    right.axhline(optimum, color="k", lw=0.8, ls=":", label=f"table optimum {optimum:.2f}")
    right.set_ylim(93.0, optimum + 0.15)
    right.set_xlabel("evaluated architectures (rounds)")
    right.set_ylabel("best test accuracy sampled so far (%)")
    right.set_title("Best architecture sampled so far", fontsize=10)
    right.legend(fontsize=8, loc="lower right")
    right.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
