"""The two-stage binary training recipe and distillation, used by train_genotype for ``binary=True``.

Two stages (Martinez et al., "Training binary neural networks with real-to-binary
convolutions", ICLR 2020, which BATS follows for its final training): stage 1 trains with binary
activations and real-valued weights, stage 2 continues from those weights with binary weights
too. Each stage anneals its own cosine learning rate from the initial value. Optional
distillation from a trained real-valued model adds kd_weight * tau^2 * KL(teacher || student).

The weight binarisation of stage 1 vs 2 is a variable read by the network's kernel quantizers
(tfnas.ops.binary_ops.Blend), set by :class:`BinaryStageSchedule` at every epoch start, so a
resumed run lands in the right stage. The saved model is rebuilt fully binary (Larq's own
quantizers) for evaluation and export.
"""
from __future__ import annotations

import math

import tensorflow as tf

from tfnas.errors import ConfigError
from tfnas.ops.binary_ops import Binarization

from tfnas.configs.train import BINARY_RECIPE  # noqa: F401  (re-exported)

keras = tf.keras


def stage1_epochs(epochs: int, requested: int) -> int:
    """Epochs of stage 1 (real weights): ``requested``, or half of ``epochs`` when negative."""
    n = epochs // 2 if requested < 0 else requested
    if n > epochs:
        raise ConfigError(f"--binary_stage1_epochs={requested} exceeds --epochs={epochs}")
    return n


def training_binarization() -> Binarization:
    """Binary activations throughout; weights binarised by a variable the stage schedule sets."""
    return Binarization(activations=1.0, weights=tf.Variable(0.0, trainable=False, name="weight_binarization"))


class BinaryStageSchedule(keras.callbacks.Callback):
    """Real weights for the first ``stage1`` epochs, binary weights afterwards."""

    def __init__(self, weights_fraction: tf.Variable, stage1: int):
        super().__init__()
        self.weights_fraction, self.stage1 = weights_fraction, stage1

    def on_epoch_begin(self, epoch, logs=None):
        self.weights_fraction.assign(0.0 if epoch < self.stage1 else 1.0)


class StagedCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Per-epoch cosine from ``initial`` to ``minimum`` within each stage [0, stage1) and [stage1, epochs)."""

    def __init__(self, initial: float, minimum: float, epochs: int, stage1: int, steps_per_epoch: int):
        self.initial, self.minimum = float(initial), float(minimum)
        self.epochs, self.stage1, self.steps_per_epoch = int(epochs), int(stage1), int(steps_per_epoch)

    def __call__(self, step):
        epoch = tf.cast(tf.math.floordiv(tf.cast(step, tf.int64), self.steps_per_epoch), tf.float32)
        in_stage2 = epoch >= self.stage1
        start = tf.where(in_stage2, float(self.stage1), 0.0)
        length = tf.where(in_stage2, float(max(self.epochs - self.stage1, 1)), float(max(self.stage1, 1)))
        t = tf.minimum((epoch - start) / length, 1.0)
        return self.minimum + 0.5 * (self.initial - self.minimum) * (1.0 + tf.cos(math.pi * t))

    def get_config(self):
        return {"initial": self.initial, "minimum": self.minimum, "epochs": self.epochs, "stage1": self.stage1,
                "steps_per_epoch": self.steps_per_epoch}


def distillation_term(teacher: keras.Model, x: tf.Tensor, logits: tf.Tensor, weight: float,
                      temperature: float) -> tf.Tensor:
    from tfnas.training.distillation import distillation_loss

    return weight * distillation_loss(tf.cast(teacher(x, training=False), logits.dtype), logits, temperature)
