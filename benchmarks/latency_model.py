"""How well a device latency table predicts whole-network LiteRT latency in the HURRICANE space.

    python benchmarks/latency_model.py --resolution=32 --width_multiplier=1.0 --num_archs=50 \
        --table=runs/tables/cpu_32px_w1.json

Builds (or reuses) the operator latency table of this device for the geometry, draws
``num_archs`` random architectures of the full space (seeded), exports each to TFLite, measures it
with LiteRT (back-to-back invocations, as deployed) and compares with the table's prediction
(fixed part + sum of op entries) using the same statistic the table records. Prints one line per
architecture and, last, one JSON object: spearman, mape, n, resolution (+ width, threads, statistic,
share of architectures predicted within 10%, the per-architecture figures).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfnas  # noqa: E402,F401  (Keras 2 switch, before TensorFlow)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from tfnas.hardware import export, latency_table, litert  # noqa: E402
from tfnas.spaces import hurricane, hurricane_network  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--width_multiplier", type=float, default=1.0)
    parser.add_argument("--input_channels", type=int, default=3)
    parser.add_argument("--num_classes", type=int, default=None, help="default: 10 at 32 px, 1000 otherwise")
    parser.add_argument("--num_archs", type=int, default=50)
    parser.add_argument("--num_threads", type=int, default=1)
    parser.add_argument("--num_runs", type=int, default=100, help="timed runs per whole network")
    parser.add_argument("--table", required=True, help="table JSON (built here if missing, resumed if partial)")
    parser.add_argument("--table_runs", type=int, default=30, help="timed rounds per op when building the table")
    parser.add_argument("--statistic", default="min", choices=latency_table.STATISTICS)
    parser.add_argument("--calibration_archs", type=int, default=16,
                        help="networks (another seed) the table fits its calibration (scale and offset) on; 0: none")
    parser.add_argument("--passes", type=int, default=2,
                        help="measure every architecture in this many passes over all of them (spread in time) "
                             "and keep the best statistic: contention episodes on a shared machine then miss some")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the random architectures")
    args = parser.parse_args()

    classes = args.num_classes or (10 if args.resolution <= 64 else 1000)
    config = hurricane.HurricaneConfig(args.resolution, args.width_multiplier, args.input_channels, classes)
    start = time.perf_counter()
    table = latency_table.build_table(config, args.table, num_threads=args.num_threads, num_runs=args.table_runs,
                                      statistic=args.statistic, calibration_archs=args.calibration_archs,
                                      log=lambda m: print(m, flush=True))
    table_seconds = time.perf_counter() - start
    stat = table.measurement["statistic"]
    rng = np.random.default_rng(args.seed)
    genotypes = [hurricane.random_genotype(rng, args.resolution, args.width_multiplier) for _ in range(args.num_archs)]
    models = []
    for g in genotypes:
        models.append(export.convert(hurricane_network.build_child(g, classes, args.input_channels)))
        tf.keras.backend.clear_session()
    measured: list[list[litert.LatencyMeasurement]] = [[] for _ in genotypes]
    for _ in range(args.passes):
        for i, data in enumerate(models):
            measured[i].append(litert.measure_latency(data, num_threads=args.num_threads, num_runs=args.num_runs,
                                                      warmup_runs=10))
    rows = []
    for i, genotype in enumerate(genotypes):
        predicted = table.predict(genotype.ops)
        raw = table.predict_uncalibrated(genotype.ops)
        value = min(m.statistic(stat) for m in measured[i])
        rows.append({"ops": list(genotype.ops), "predicted_ms": predicted, "uncalibrated_ms": raw, "measured_ms": value,
                     "measured_median_ms": min(m.median_ms for m in measured[i]),
                     "footprint_mb": table.footprint_bytes(genotype.ops) / 2**20})
        print(f"arch {i:2d}: predicted {predicted:8.3f} ms  measured {value:8.3f} ms  "
              f"ratio {predicted / value:.3f}  footprint {rows[-1]['footprint_mb']:.1f} MiB", flush=True)
    pred = np.array([r["predicted_ms"] for r in rows])
    meas = np.array([r["measured_ms"] for r in rows])
    err = np.abs(pred - meas) / meas
    result = {"spearman": float(spearmanr(pred, meas)[0]), "mape": float(err.mean()), "n": len(rows),
              "resolution": args.resolution, "width_multiplier": args.width_multiplier,
              "num_threads": args.num_threads, "statistic": stat,
              "within_10pct": float((err <= 0.10).mean()), "median_ratio": float(np.median(pred / meas)),
              "calibration": table.measurement.get("calibration"),
              "uncalibrated_mape": float(np.mean([abs(r["uncalibrated_ms"] - r["measured_ms"]) / r["measured_ms"]
                                                  for r in rows])),
              "table": os.path.abspath(args.table), "table_build_s": table_seconds,
              "device": table.device, "litert_version": table.litert_version, "archs": rows}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
