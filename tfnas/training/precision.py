"""Mixed precision for searches and child training: one policy per job, float32 where it matters.

``--mixed_precision`` names a Keras policy: ``float32`` (default), ``mixed_bfloat16`` (CPUs
with AVX512-BF16/AMX, TPUs, recent GPUs) or ``mixed_float16`` (GPUs; needs loss scaling). Under a
mixed policy layers compute in the low-precision dtype and keep float32 variables (the
optimizers update float32 weights); what stays float32 everywhere: architecture variables and
their softmax, BN statistics, logits and losses, optimizer state. Exported models are rebuilt
under float32 from the float32 weights, so TFLite, int8 and LCE exports do not change.

The policy is set only while a job builds and trains its models (``precision_policy``) and the
previous one is restored afterwards, so a later job in the same process (the quickstart's
export) builds float32 models again.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import tensorflow as tf

from tfnas.configs.common import POLICIES, validate_policy  # noqa: F401  (re-exported)

keras = tf.keras


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Within the block, new Keras layers use policy ``name``; the previous global policy comes back after."""
    validate_policy(name)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def float32_logits(logits: tf.Tensor) -> tf.Tensor:
    """Logits in float32 before softmax/cross-entropy (a bfloat16 softmax loses the small differences)."""
    return tf.cast(logits, tf.float32)


def loss_scale_optimizer(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """``optimizer`` wrapped in a dynamic LossScaleOptimizer under the mixed_float16 policy, else as is."""
    if keras.mixed_precision.global_policy().name != "mixed_float16" or \
            isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer):
        return optimizer
    return keras.mixed_precision.LossScaleOptimizer(optimizer)


def scaled(optimizer: keras.optimizers.Optimizer, loss: tf.Tensor) -> tf.Tensor:
    """The loss to differentiate: times the dynamic loss scale when ``optimizer`` scales losses."""
    if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer):
        return optimizer.get_scaled_loss(loss)
    return loss


def unscaled(optimizer: keras.optimizers.Optimizer, grads: Sequence[tf.Tensor | None]) -> list[tf.Tensor | None]:
    """Gradients of ``scaled(optimizer, loss)`` divided back by the loss scale."""
    if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer):
        return optimizer.get_unscaled_gradients(list(grads))
    return list(grads)


def inner_optimizer(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """The optimizer that holds the slots (a LossScaleOptimizer's wrapped optimizer)."""
    if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer):
        return optimizer.inner_optimizer
    return optimizer
