"""Flags of binaries.report (an HTML report of one or more run directories)."""
from __future__ import annotations

from absl import flags

RUN_DIR = flags.DEFINE_multi_string(
    "run_dir", [], "The --output_dir of a tfnas search or training run; repeat to compare several side by side.")
OUTPUT = flags.DEFINE_string("output", "report.html", "Where the self-contained HTML page is written.")
