"""What the three discrete search binaries share: flags -> DiscreteSearchConfig -> run_discrete_search.

Not a binary itself. The search (tabular mode with ``--benchmark``, real PNAS-cell training
without it, the run directory, Ray workers) is the library's
(``tfnas.methods.discrete_search``); a binary only turns its flags into the config, checks it
before TensorFlow is imported and prints one line about the result.
"""
from __future__ import annotations

from typing import Any, Callable

from absl import app

from flags import common, discrete
from tfnas.configs.discrete import FlagError  # noqa: F401  (what bad discrete-search flags raise)
from tfnas.errors import exit_on_user_error
from tfnas.logs import quiet_tensorflow_logs


def setup(method: str):
    """The driver's ``Setup`` (evaluator, space, converters) for the flags of ``method``'s binary."""
    from tfnas.methods.discrete_search import setup as setup_from_config

    return setup_from_config(discrete.config(method))


def search(method: str) -> dict[str, Any]:
    """Run (or resume) ``method`` with the flags; returns search_summary.json."""
    config = discrete.config(method)
    config.validate()  # before TensorFlow is imported: a bad flag fails in about a second
    from tfnas.methods.discrete_search import run_discrete_search

    summary = run_discrete_search(config)
    best, metric = summary["best"], summary["objective"]
    if best is not None:
        print(f"{summary['method']}: {summary['num_evaluated']} evaluated, best {metric}={best['metrics'][metric]:.4f} "
              f"{best['arch']} -> {config.output_dir}")
    return summary


def make_main(search: Callable[[], Any]):
    """absl main around a binary's ``search()``: bad input ends with one ``error:`` line (exit 2)."""

    def main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {argv[1:]}")
        quiet_tensorflow_logs()
        with exit_on_user_error():
            common.require_one_device(argv[0].rsplit("/", 1)[-1].removesuffix(".py"),
                                      "it trains or looks up one candidate at a time in this process")
            search()

    return main
