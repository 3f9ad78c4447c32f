"""What a supernet's train step needs to be correct under a tf.distribute strategy.

Under ``MirroredStrategy`` / ``MultiWorkerMirroredStrategy`` each replica runs the train step on
its slice of the global batch. A step is the same step as on one device over the whole batch
when:

* each replica's loss is weighted by its share of the global batch (``batch_share``: local
  examples / global examples, the all-reduced count, so uneven splits stay exact), so that the
  sum of the replicas' gradients is the gradient of the global batch's mean loss;
* gradients (of weights and architecture variables alike) are summed over the replicas
  (``sum_over_replicas``) *before* anything nonlinear uses them: global-norm clipping, weight
  decay added to the gradient, DARTS' virtual step and finite differences; the optimizers then
  apply them with ``skip_gradients_aggregation=True``;
* BatchNorm normalises with the global batch's statistics (``synchronize_batch_norm``: Keras'
  own ``synchronized=True`` for every ``keras.layers.BatchNormalization``, and the same all-reduced
  moments for the supernets' affine-free BNs, see ``batched_ops.affine_free_batch_norm``).
  Without it (Keras' default, non-synchronised BN) each replica normalises with its own slice's
  statistics, as Keras does; the step then differs from the one-device step by that.

On one replica (the default strategy, or a one-worker cluster) every function here adds no op.
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

keras = tf.keras


def num_replicas() -> int:
    """Replicas of the current strategy (1 outside any strategy)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def _replica_context() -> tf.distribute.ReplicaContext | None:
    """The replica context of a multi-replica step, or None (one replica, or cross-replica code)."""
    if num_replicas() == 1:
        return None
    context = tf.distribute.get_replica_context()
    # Under a real strategy, cross-replica code has no replica context; the default strategy's
    # context belongs to no real strategy.
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def in_multi_replica_step() -> bool:
    """Whether the caller runs inside one replica of a multi-replica step."""
    return _replica_context() is not None


def replica_id() -> tf.Tensor | int:
    """This replica's index in the synchronised group (0 on one replica)."""
    context = _replica_context()
    return 0 if context is None else context.replica_id_in_sync_group


def batch_share(batch: tf.Tensor) -> tf.Tensor | float:
    """This replica's examples over the global batch's (all-reduced), 1.0 on one replica.

    Multiplying a replica's mean loss by it makes the replicas' gradients sum to the gradient of
    the global batch's mean loss.
    """
    context = _replica_context()
    if context is None:
        return 1.0
    local = tf.cast(tf.shape(batch)[0], tf.float32)
    return local / context.all_reduce(tf.distribute.ReduceOp.SUM, local)


def sum_over_replicas(grads: Sequence[tf.Tensor | None]) -> list[tf.Tensor | None]:
    """Gradients summed over the replicas (one batched all-reduce); ``None`` entries stay ``None``."""
    grads = list(grads)
    context = _replica_context()
    if context is None:
        return grads
    present = [i for i, g in enumerate(grads) if g is not None]
    if not present:
        return grads
    dense = [tf.convert_to_tensor(grads[i]) for i in present]  # IndexedSlices (gathers) summed densely
    reduced = context.all_reduce(tf.distribute.ReduceOp.SUM, dense)
    for i, g in zip(present, reduced):
        grads[i] = g
    return grads


def mean_over_replicas(value: tf.Tensor) -> tf.Tensor:
    """The mean of a per-replica value (e.g. a loss for reporting); the value itself on one replica."""
    context = _replica_context()
    if context is None:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


def global_moments(x: tf.Tensor, axes: Sequence[int]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(mean, biased variance, example count) of ``x`` over ``axes`` and over every replica's slice.

    Computed in float32 from all-reduced sums, as Keras' synchronised BatchNormalization does;
    on one replica the plain moments.
    """
    x = tf.cast(x, tf.float32)
    axes = list(axes)
    count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), axes)), tf.float32)
    context = _replica_context()
    if context is None:
        mean, variance = tf.nn.moments(x, axes)
        return mean, variance, count
    total, squares, count = context.all_reduce(
        tf.distribute.ReduceOp.SUM, [tf.reduce_sum(x, axes), tf.reduce_sum(tf.square(x), axes), count])
    mean = total / count
    return mean, tf.maximum(squares / count - tf.square(mean), 0.0), count


def synchronize_batch_norm(model: keras.layers.Layer) -> int:
    """Make every BatchNorm under ``model`` normalise with the global batch's statistics.

    Keras' BatchNormalization layers get ``synchronized=True`` (their fused kernel, which cannot
    all-reduce, is turned off: Keras' own rule for synchronised BN); tfnas' affine-free BNs
    (layers with a ``synchronized`` attribute: ``MixedCell``, ``AffineFreeBatchNorm``) all-reduce
    their moments too. Call it on a multi-replica run only (one device: nothing to synchronise,
    and the fused kernel is faster). Returns how many layers were switched.
    """
    count = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized, layer.fused = True, False
            count += 1
        elif hasattr(layer, "synchronized"):
            layer.synchronized = True
            count += 1
    return count
