"""Memory while training many PNAS candidates in one process (as a real PNAS search does).

Trains ``--candidates`` random 2-block PNAS child networks one after another through
``TrainingEvaluator`` on the embedded MNIST (tiny: N=1, F=8, a few steps each) and records the
process RSS after each. ``--plain_keras_sgd`` swaps in tf-keras' own SGD to show the growth the
evaluator's optimizer avoids (tf-keras 2.21 keeps every trained train graph alive through a
gradient registration of its no-op single-device gradient all-reduce).

  python benchmarks/candidate_memory.py
  python benchmarks/candidate_memory.py --plain_keras_sgd

The last printed line is one JSON object: RSS per candidate (MiB) and the growth per candidate
(least-squares slope over all but the first ``--warmup`` candidates).
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
import psutil  # noqa: E402

from tfnas.data import load_image_data  # noqa: E402
from tfnas.search import training_evaluator as te  # noqa: E402
from tfnas.spaces import pnas  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--dataset", default="mnist_embedded")
    parser.add_argument("--plain_keras_sgd", action="store_true")
    args = parser.parse_args()
    if args.plain_keras_sgd:
        te._SingleDeviceSGD = te.keras.optimizers.SGD  # the stock optimizer, for comparison

    data = load_image_data(args.dataset)
    evaluator = te.TrainingEvaluator(
        data, lambda arch, classes, shape: pnas.build_network(pnas.to_genotype(arch), classes, shape, 1, 8),
        te.CandidateTraining(epochs=1, batch_size=32, steps_per_epoch=5))
    space = pnas.fixed_size_space(2)
    rng = np.random.default_rng(0)
    process = psutil.Process()
    rss, seconds = [], []
    for i in range(args.candidates):
        t = time.time()
        evaluator.evaluate(space.sample(rng))
        seconds.append(time.time() - t)
        rss.append(process.memory_info().rss / 2 ** 20)
        print(f"candidate {i + 1}: rss {rss[-1]:.0f} MiB ({seconds[-1]:.1f}s)", flush=True)
    tail = np.array(rss[args.warmup:])
    slope = float(np.polyfit(np.arange(len(tail)), tail, 1)[0]) if len(tail) > 1 else float("nan")
    print(json.dumps({"optimizer": "keras SGD" if args.plain_keras_sgd else "TrainingEvaluator SGD",
                      "candidates": args.candidates, "rss_mib": [round(r) for r in rss],
                      "growth_mib_per_candidate": round(slope, 2),
                      "rss_first_last_mib": [round(rss[0]), round(rss[-1])],
                      "mean_seconds_per_candidate": round(float(np.mean(seconds)), 2)}))


if __name__ == "__main__":
    main()
