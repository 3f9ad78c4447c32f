"""Whether TensorFlow's Grappler rewrites a job's graphs: ``full`` (its default) or ``light`` (none).

Grappler optimises every traced function once, when it is first run. On a CPU that one-off cost is
paid per function (train, test and predict steps, each supernet's branch functions) and it does
not shrink with the network: on a 2-core machine it is 10-15 s of a tiny BATS search's 45 s
(docs/BENCHMARKS.md). For a real run it pays for itself: on the full-size DARTS supernet its
memory and pruning passes make the step about 10% faster and the peak memory 1.7x smaller. So
real runs keep it (``full``) and smoke tests, tiny networks and CI runs may skip it (``light``,
``--graph_optimization=light``). The single-path supernets (HURRICANE, ViTAS) always run light:
their many branch functions are what Grappler is slowest on, for no step-time gain.

``graph_optimization(name)`` applies a setting for a block and restores the previous one, so a job
run from Python (or several binaries run in one process) does not change the caller's setting.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, TypeVar

GRAPH_OPTIMIZATIONS = ("full", "light")


@contextlib.contextmanager
def graph_optimization(name: str = "full") -> Iterator[None]:
    """Run the block with Grappler off (``light``) or as the caller has it (``full``: TensorFlow's default
    is on); the previous setting comes back on exit.

    Only functions first run inside the block are affected: TensorFlow optimises a function once,
    when it is instantiated.
    """
    if name not in GRAPH_OPTIMIZATIONS:
        raise ValueError(f"graph optimization must be one of {GRAPH_OPTIMIZATIONS}, got {name!r}")
    import tensorflow as tf

    previous = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": name == "light" or previous})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": previous})


def light_graph_optimization() -> contextlib.AbstractContextManager[None]:
    """``graph_optimization("light")``: what the single-path supernets always run under (see above)."""
    return graph_optimization("light")


Job = TypeVar("Job", bound=Callable[..., Any])


def applies_config_graph_optimization(job: Job) -> Job:
    """Run ``job(config, ...)`` under ``graph_optimization(config.graph_optimization)``.

    An unknown value runs under ``full``, so that the job's own ``config.validate()`` reports it as
    the one-line ConfigError every other bad setting gets.
    """

    @functools.wraps(job)
    def run(config, *args, **kwargs):
        name = getattr(config, "graph_optimization", "full")
        with graph_optimization(name if name in GRAPH_OPTIMIZATIONS else "full"):
            return job(config, *args, **kwargs)

    return run  # type: ignore[return-value]
