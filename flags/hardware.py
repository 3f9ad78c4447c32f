"""How latency is measured with LiteRT, and the geometry (resolution, width) a latency table is built for."""
from __future__ import annotations

from absl import flags

NUM_THREADS = flags.DEFINE_integer(
    "num_threads", 1, "CPU threads LiteRT (XNNPACK) may use for every measurement. A latency table records it; "
    "tables measured with different thread counts describe different devices.")
NUM_RUNS = flags.DEFINE_integer("num_runs", 100, "Timed LiteRT invocations per measured model (median reported).")
WARMUP_RUNS = flags.DEFINE_integer("warmup_runs", 10, "Untimed LiteRT invocations before timing starts.")
LATENCY_METHOD = flags.DEFINE_enum(
    "latency_method", "in_process", ["in_process", "benchmark_tool"],
    "in_process: time each invocation with LiteRT's CompiledModel API in this process (full precision). "
    "benchmark_tool: run LiteRT's benchmark tool (litert-benchmark; its JSON rounds to 0.01 ms).")
RESOLUTION = flags.DEFINE_integer(
    "resolution", 32, "Input image resolution (height = width) the space's latency table and networks are built "
    "for: 224 for ImageNet-size models, 32 for CIFAR/MNIST-size ones.")
WIDTH_MULTIPLIER = flags.DEFINE_float(
    "width_multiplier", 1.0, "Multiplier on every searchable layer's channel count (stem and head included).")
