"""Measure a .tflite model's latency with LiteRT on this device and print it as JSON.

    python -m binaries.profile_latency --tflite=runs/train/model.tflite --num_threads=1 --output=lat.json

The JSON holds median, p5, p95, mean, std, min, max (ms), runs, threads, LiteRT version and the
device (CPU model, cores, machine).
"""
from __future__ import annotations

import tfnas  # noqa: F401  (Keras 2 switch, before TensorFlow)

import json
import os
import sys

from absl import app

from flags import hardware, output_file
from flags import profile as profile_flags
from tfnas.hardware import litert


def write_json(data: dict, path: str) -> None:
    """Atomic write: an interrupted run never leaves half a file where a good one was."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def profile_tflite(path: str) -> dict:
    return litert.measure_latency(path, num_threads=hardware.NUM_THREADS.value, num_runs=hardware.NUM_RUNS.value,
                                  warmup_runs=hardware.WARMUP_RUNS.value,
                                  method=hardware.LATENCY_METHOD.value).to_json()


def main(argv: list[str]) -> None:
    del argv
    if not profile_flags.TFLITE.value:
        sys.exit("profile_latency: pass --tflite=<model.tflite> (export one with binaries.export)")
    try:
        result = profile_tflite(profile_flags.TFLITE.value)
    except litert.LatencyError as e:
        sys.exit(f"profile_latency: {e}")
    if output_file.OUTPUT.value:
        write_json(result, output_file.OUTPUT.value)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    app.run(main)
