"""Shared body of the differentiable search binaries: flags -> SearchConfig -> run -> summary."""
from __future__ import annotations

import json
import sys

from absl import app, logging

import flags.common as common
import flags.search as search
from tfnas.errors import exit_on_user_error
from tfnas.logs import quiet_tensorflow_logs
from tfnas.configs.differentiable import SearchConfig


def config_from_flags(method: str) -> SearchConfig:
    return SearchConfig(method=method, space=search.SPACE.value, **search.search_config_kwargs())


def make_main(method: str):
    """The absl main of a differentiable search binary for ``method``."""

    def main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {argv[1:]}")
        quiet_tensorflow_logs()
        run(method)

    return main


def run(method: str) -> None:
    with exit_on_user_error():
        config = config_from_flags(method)
        config.validate()  # before TensorFlow is imported: a bad flag fails in about a second
        from tfnas.methods.differentiable_search import run_differentiable_search

        summary = run_differentiable_search(config)
    last = summary["epochs"][-1] if summary["epochs"] else {}
    logging.info("search finished in %.1f s", summary["wall_time_s"])
    print(json.dumps({"genotype": summary["genotype"], "val_accuracy": last.get("val_accuracy"),
                      "wall_time_s": summary["wall_time_s"], "output_dir": common.OUTPUT_DIR.value,
                      "tensorboard": summary["tensorboard"]}, indent=2))
    sys.stdout.flush()
