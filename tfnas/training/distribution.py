"""The tf.distribute strategy behind --distribution."""
from __future__ import annotations

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")


def strategy_for(name: str) -> tf.distribute.Strategy:
    """default: one device; mirrored: all local GPUs; multi_worker: the cluster in TF_CONFIG."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown --distribution {name!r}; choose one of {STRATEGIES}")
