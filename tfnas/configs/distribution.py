"""Which tf.distribute strategy a job runs under, checked without TensorFlow (TF_CONFIG included).

tfnas.training.distribution builds the strategy; these checks run first, so a bad
``--distribution`` or an unusable TF_CONFIG is one line before TensorFlow is imported.
"""
from __future__ import annotations

import json
import os

from tfnas.errors import ConfigError

STRATEGIES = ("default", "mirrored", "multi_worker")


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({e}); set it to "
                          '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}') from None
    if not isinstance(config, dict):
        raise ConfigError("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    return config


def validate_distribution(name: str) -> None:
    """A one-line error for an unknown strategy or an unusable TF_CONFIG, before any work starts."""
    if name not in STRATEGIES:
        raise ConfigError(f"unknown --distribution {name!r}; choose one of {STRATEGIES}")
    if name == "multi_worker":
        check_tf_config()


def check_tf_config() -> None:
    """A clear error for a TF_CONFIG that ``--distribution=multi_worker`` cannot use (before any work)."""
    config = _tf_config()
    cluster, task = config.get("cluster") or {}, config.get("task") or {}
    if not cluster:
        return  # no cluster: MultiWorkerMirroredStrategy runs one local worker
    kind, index = task.get("type"), task.get("index")
    if kind not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise ConfigError(f"TF_CONFIG's task {task!r} is not in its cluster {sorted(cluster)} "
                          "(task type must be a cluster key and index a position in its address list)")
    if set(cluster) - {"chief", "worker"}:
        raise ConfigError(f"--distribution=multi_worker takes a cluster of 'chief' and 'worker' tasks, got "
                          f"{sorted(cluster)} (parameter servers are another strategy)")


def writes_run_files(name: str) -> bool:
    """Whether this process writes the run's files: always, but on a multi-worker run's non-chief workers.

    Read from TF_CONFIG, so it is known before the strategy (and its cluster) exists.
    """
    if name != "multi_worker":
        return True
    config = _tf_config()
    cluster, task = config.get("cluster") or {}, config.get("task") or {}
    if not cluster:
        return True
    kind, index = task.get("type"), task.get("index", 0)
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
