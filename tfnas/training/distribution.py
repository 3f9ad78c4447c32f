"""The tf.distribute strategy behind --distribution, and who writes a multi-worker run's files.

``default``: one device. ``mirrored``: every local GPU (or, with none, the CPU devices TensorFlow
sees: one unless logical devices are configured), one replica each, in one process.
``multi_worker``: ``MultiWorkerMirroredStrategy`` over the cluster in ``TF_CONFIG``, one process
per worker (each with its local devices).

A multi-worker run has one output directory, written by the chief only (the worker ``chief``, or
``worker`` 0 when the cluster has no chief): run_config.json, history.json, checkpoints,
TensorBoard events and results, as Keras' ``BackupAndRestore`` does. Every other worker reads
the chief's run (settings, history, checkpoints: the output directory must be on a filesystem
every worker sees) and writes nothing there: what it must write (its share of a checkpoint save,
which all workers take part in, and its TensorBoard events) goes to a temporary directory of its
own, removed afterwards (``tfnas.run_dir.RunDirectory(writer=False)``).
"""
from __future__ import annotations

import functools

import tensorflow as tf

from tfnas.errors import ConfigError
from tfnas.configs.distribution import (  # noqa: F401  (re-exported: checked without TensorFlow)
    STRATEGIES, check_tf_config, validate_distribution, writes_run_files)


def strategy_for(name: str) -> tf.distribute.Strategy:
    """The strategy of ``--distribution=name``; one per process (a process joins its cluster once)."""
    if name == "default":
        return tf.distribute.get_strategy()
    validate_distribution(name)
    return _distributed_strategy(name)


@functools.lru_cache(maxsize=None)
def _distributed_strategy(name: str) -> tf.distribute.Strategy:
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


def num_workers(strategy: tf.distribute.Strategy) -> int:
    """Processes taking part in ``strategy`` (1 but under a multi-worker cluster)."""
    return int(getattr(strategy.extended, "_num_workers", 1))


def check_workers_agree(strategy: tf.distribute.Strategy, start_epoch: int, what: str) -> None:
    """Raise on every worker when the workers restored different epochs.

    It happens when a worker cannot see the chief's checkpoints (the output directory is not on a
    filesystem every worker sees); training on would mix models. One small all-reduce.
    """
    if num_workers(strategy) == 1:
        return

    def sums():
        context = tf.distribute.get_replica_context()
        e = tf.constant(float(start_epoch), tf.float64)
        return context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stack([e, e * e, tf.constant(1.0, tf.float64)]))

    result = tf.function(lambda: strategy.run(sums))()
    total, squares, n = strategy.experimental_local_results(result)[0].numpy()
    if abs(total * total - n * squares) > 1e-6:  # (sum e)^2 == n sum e^2 only when every e is the same
        raise ConfigError(f"the workers of this {what} resumed from different epochs (this one from {start_epoch}, "
                          f"their mean {total / n:g}): every worker must see the chief's --output_dir (a shared "
                          "filesystem), or pass --fresh on every worker to start over")


def shard_by_data(dataset: tf.data.Dataset | None) -> tf.data.Dataset | None:
    """``dataset`` split across workers by batch elements (each global batch split over every replica).

    tfnas' streams are built in memory, with no files to split; saying so up front spares
    tf.data's failed attempt at file sharding (and its warning). No effect on one worker.
    """
    if dataset is None:
        return None
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
