"""Flags of binaries.profile_latency: measure one .tflite, or build a per-device operator latency table."""
from __future__ import annotations

from absl import flags

from flags import hardware, output_file  # noqa: F401  (--num_threads, --num_runs, ..., --output)

TFLITE = flags.DEFINE_string("tflite", None, "A .tflite model to measure with LiteRT; prints the latency JSON.")
