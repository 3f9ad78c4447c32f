"""--output: the single result file a tool binary writes (export: the .tflite; profile_latency: JSON)."""
from __future__ import annotations

from absl import flags

OUTPUT = flags.DEFINE_string(
    "output", None,
    "File to write. binaries.export: the .tflite (default <model dir>/model.tflite, or model_int8.tflite for "
    "--format=int8). binaries.profile_latency: the latency JSON (--tflite) or the operator latency table "
    "(--build_table; required there).")
