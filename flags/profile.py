"""Flags of binaries.profile_latency: measure one .tflite, or build a per-device operator latency table."""
from __future__ import annotations

from absl import flags

from flags import hardware, output_file  # noqa: F401  (--num_threads, --num_runs, ..., --output)

TFLITE = flags.DEFINE_string("tflite", None, "A .tflite model to measure with LiteRT; prints the latency JSON.")
BUILD_TABLE = flags.DEFINE_bool(
    "build_table", False, "Build (or finish building) the per-device operator latency table of --space at "
    "--resolution / --width_multiplier and write it to --output. Re-running with the same --output resumes.")
SPACE = flags.DEFINE_enum("space", "hurricane", ["hurricane"], "Search space whose latency table is built.")
INPUT_CHANNELS = flags.DEFINE_integer(
    "input_channels", None, "Image channels of the networks the table is for (default: those of --dataset).")
NUM_CLASSES = flags.DEFINE_integer(
    "num_classes", None, "Classes of the networks the table is for (default: those of --dataset).")
TABLE_OPS = flags.DEFINE_list(
    "table_ops", None, "Measure only these ops (comma-separated names of the space's vocabulary; default: all).")
TABLE_STATISTIC = flags.DEFINE_enum(
    "table_statistic", "min", ["min", "p10", "median"],
    "Statistic of each op's timed runs the table predicts with. min resists other processes on the machine "
    "(they only add time); on an idle device it is within a few percent of the median. All three are recorded.")
FLUSH_MB = flags.DEFINE_list(
    "flush_mb", None, "Cache states each op is timed in: MiB of memory read before every timed run, as a "
    "comma-separated ladder (default: 0, 1/4, 1/2, 1, 2 and 4 times the CPU's last-level cache).")
CALIBRATION_ARCHS = flags.DEFINE_integer(
    "calibration_archs", 16, "Random whole networks measured after the table to fit its calibration "
    "(measured = scale x predicted + offset, least squares in relative error; a scale alone below 6 networks); "
    "0 skips calibration.")
