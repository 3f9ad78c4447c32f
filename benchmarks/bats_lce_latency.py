"""Size and latency of a BATS network exported with LCE vs the same network exported in float.

Builds the BATS network of a fixed genotype (every BATS op, stride 1 and 2) at a deployable width
(grouped binary convs with 32 input channels per group), converts it with larq-compute-engine
(--format=lce) and with the float TFLite converter (--format=tflite), and times single-image
inference: the LCE model in LCE's interpreter (indirect-BGEMM kernel, which grouped binary convs
need), the float model in LiteRT (XNNPACK). Weights are untrained: latency and size do not depend
on their values. LCE's optimised kernels are for ARM (aarch64); on x86 it runs portable code, so
an x86 LCE figure is not a device figure -- the JSON says which machine measured it.

Usage:
  python benchmarks/bats_lce_latency.py [--init_channels 64] [--layers 8] [--image_size 32] [--runs 30]
Last line: one JSON object (sizes, size ratio, median latencies, MACs, operator counts, machine).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfnas  # noqa: E402,F401

from tfnas.logs import quiet_tensorflow_logs  # noqa: E402

GENOTYPE = {
    "space": "bats", "version": 1,
    "normal": [["group_conv_3x3", 0], ["dil_group_conv_5x5", 1], ["skip_connect", 0], ["group_conv_5x5", 2],
               ["avg_pool_3x3", 1], ["dil_group_conv_3x3", 3], ["max_pool_3x3", 2], ["skip_connect", 4]],
    "reduce": [["group_conv_3x3", 0], ["dil_group_conv_3x3", 1], ["skip_connect", 0], ["dil_group_conv_5x5", 2],
               ["max_pool_3x3", 1], ["group_conv_5x5", 3], ["avg_pool_3x3", 2], ["skip_connect", 1]],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init_channels", type=int, default=64)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3, help="image channels")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    quiet_tensorflow_logs()

    from tfnas.hardware import export as export_lib
    from tfnas.hardware import lce
    from tfnas.hardware.litert import measure_latency
    from tfnas.spaces.base import genotype_from_json
    from tfnas.training.child_networks import build_child

    model = build_child(genotype_from_json(GENOTYPE), 10, (args.image_size, args.image_size, args.channels),
                        layers=args.layers, init_channels=args.init_channels, binary=True)
    lce_fb = lce.convert_lce(model)
    float_fb = export_lib.convert_float(model)
    lce_latency = lce.measure_lce_latency(lce_fb, num_threads=args.threads, num_runs=args.runs)
    float_latency = measure_latency(float_fb, num_threads=args.threads, num_runs=args.runs).to_json()
    macs = lce.binary_macs(model)
    ops = lce.operator_counts(lce_fb)
    print(json.dumps({
        "lce_size_bytes": len(lce_fb), "float_size_bytes": len(float_fb),
        "size_ratio": round(len(float_fb) / len(lce_fb), 2),
        "lce_median_ms": round(lce_latency["median_ms"], 2), "float_median_ms": round(float_latency["median_ms"], 2),
        "lce_over_float_latency": round(lce_latency["median_ms"] / float_latency["median_ms"], 2),
        "binary_layers": lce.binary_layer_count(model), "lce_binary_ops": ops.get("LceBconv2d", 0), **macs,
        "machine": platform.machine(), "arm_optimized_lce": lce_latency["arm_optimized"],
        "device": lce_latency["device"], "config": vars(args)}))


if __name__ == "__main__":
    main()
