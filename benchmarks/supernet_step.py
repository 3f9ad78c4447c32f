"""Seconds per DARTS search step, peak memory and time to the first step of the DARTS supernet.

Configuration of the CIFAR-10 search (DARTS): 8 cells, 16 initial channels, batch 64, 32x32x3
inputs, first-order bi-level step = one architecture update (validation batch) + one weight
update (training batch), exactly BilevelSearch.train_step as model.fit runs it. Inputs are random
tensors of CIFAR-10's shape (the figure is compute, not data loading).

Usage:
  python benchmarks/supernet_step.py [--steps 3] [--batch_size 64] [--layers 8] [--init_channels 16]
      [--no_checkpoint] [--method darts|single_darts] [--order 1|2]
      [--mixed_precision float32|mixed_bfloat16|mixed_float16] [--graph_optimization full|light]
Last line: one JSON object with s_per_step, peak_rss_mib, first_step_s and the configuration.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import psutil  # noqa: E402

PROCESS_START = psutil.Process().create_time()

import tfnas  # noqa: E402,F401  (selects Keras 2 before TensorFlow loads)
import tensorflow as tf  # noqa: E402

from tfnas.methods.differentiable import BilevelSearch, SingleLevelSearch  # noqa: E402
from tfnas.supernets.differentiable import DartsSupernet  # noqa: E402
from tfnas.training.precision import POLICIES, precision_policy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--init_channels", type=int, default=16)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--no_checkpoint", action="store_true", help="keep all activations (no recomputation)")
    parser.add_argument("--method", choices=["darts", "single_darts"], default="darts")
    parser.add_argument("--order", type=int, choices=[1, 2], default=1)
    parser.add_argument("--mixed_precision", choices=POLICIES, default="float32")
    parser.add_argument("--graph_optimization", choices=["full", "light"], default="full",
                        help="light: Grappler's rewrites off while the step is traced and first run")
    args = parser.parse_args()

    tf.random.set_seed(0)
    b, s = args.batch_size, args.image_size
    x = tf.random.normal([b, s, s, 3])
    y = tf.random.uniform([b], 0, 10, tf.int32)
    with precision_policy(args.mixed_precision):  # as run_differentiable_search builds it
        supernet = DartsSupernet(10, args.init_channels, args.layers, checkpoint=not args.no_checkpoint)
        supernet(x[:1])
        arch_opt = tf.keras.optimizers.Adam(3e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8)
        if args.method == "darts":
            model = BilevelSearch(supernet, arch_opt, order=args.order)
            data = ((x, y), (x, y))
        else:
            model = SingleLevelSearch(supernet, arch_opt)
            data = (x, y)
        model.compile(optimizer=tf.keras.optimizers.SGD(0.025, momentum=0.9))
        model.build_optimizers()
    step = tf.function(model.train_step)
    if args.graph_optimization == "light":
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    t0 = time.time()
    step(data)["loss"].numpy()
    first_step_s = time.time() - PROCESS_START
    first_call_s = time.time() - t0
    times = []
    for _ in range(args.steps):
        t0 = time.time()
        step(data)["loss"].numpy()
        times.append(time.time() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = {
        "s_per_step": round(sum(times) / len(times), 2), "step_times_s": [round(t, 2) for t in times],
        "peak_rss_mib": round(peak, 1), "first_step_s": round(first_step_s, 1),
        "first_call_s": round(first_call_s, 1),
        "config": {"method": args.method, "order": args.order, "layers": args.layers,
                   "init_channels": args.init_channels, "batch_size": b, "image_size": s,
                   "checkpoint": not args.no_checkpoint, "mixed_precision": args.mixed_precision,
                   "graph_optimization": args.graph_optimization, "params": supernet.count_params(),
                   "cpu_count": os.cpu_count(), "tensorflow": tf.__version__},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
