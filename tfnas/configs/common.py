"""Checks that every job's settings share: the output directory, the precision policy, sizes."""
from __future__ import annotations

from typing import Any, Iterable

from tfnas.errors import ConfigError
from tfnas.graph_optimization import GRAPH_OPTIMIZATIONS
from tfnas.run_dir import OutputDirError, check_is_directory

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
"""Keras mixed-precision policies a job may build its models under (tfnas.training.precision)."""

TEMPERATURE_SCHEDULES = ("constant", "linear", "cosine", "exponential")
"""How a softmax temperature moves over a search (tfnas.training.temperature)."""


def validate_policy(name: str) -> None:
    if name not in POLICIES:
        raise ConfigError(f"--mixed_precision must be one of {', '.join(POLICIES)}, got {name!r}")


def validate_graph_optimization(name: str) -> None:
    if name not in GRAPH_OPTIMIZATIONS:
        raise ConfigError(f"--graph_optimization must be one of {', '.join(GRAPH_OPTIMIZATIONS)}, got {name!r}")


def validate_temperature_schedule(schedule: str) -> None:
    if schedule not in TEMPERATURE_SCHEDULES:
        raise ConfigError(f"--temperature_schedule must be one of {TEMPERATURE_SCHEDULES}, got {schedule!r}")


def check_output_dir(output_dir: str | None) -> None:
    """A run needs an output directory it can create: given, and neither a file nor under one."""
    if not output_dir:
        raise OutputDirError("pass --output_dir=<dir>: results, checkpoints and TensorBoard events go there "
                             "(re-running with the same directory resumes)")
    check_is_directory(output_dir)


def check_positive(config: Any, names: Iterable[str]) -> None:
    """``--name must be positive`` for the first of ``names`` that is set and not > 0."""
    for name in names:
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise ConfigError(f"--{name} must be positive, got {value}")
