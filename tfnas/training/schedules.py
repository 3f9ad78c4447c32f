"""Learning-rate schedules in the form the reference implementations use them."""
from __future__ import annotations

import math

import tensorflow as tf

keras = tf.keras


class EpochCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Cosine annealing stepped once per epoch (PyTorch CosineAnnealingLR as DARTS calls it).

    lr(epoch) = min + (max - min) * (1 + cos(pi * epoch / epochs)) / 2, constant within an epoch.
    """

    def __init__(self, initial: float, minimum: float, epochs: int, steps_per_epoch: int, warmup_epochs: int = 0):
        self.initial, self.minimum = float(initial), float(minimum)
        self.epochs, self.steps_per_epoch = int(epochs), int(steps_per_epoch)
        self.warmup_epochs = int(warmup_epochs)

    def __call__(self, step):
        epoch = tf.cast(tf.math.floordiv(tf.cast(step, tf.int64), self.steps_per_epoch), tf.float32)
        cosine = self.minimum + 0.5 * (self.initial - self.minimum) * (
            1.0 + tf.cos(math.pi * tf.minimum(epoch, float(self.epochs)) / float(max(self.epochs, 1))))
        if self.warmup_epochs:
            warm = self.initial * (epoch + 1.0) / float(self.warmup_epochs)
            return tf.where(epoch < self.warmup_epochs, warm, cosine)
        return cosine

    def get_config(self):
        return {"initial": self.initial, "minimum": self.minimum, "epochs": self.epochs,
                "steps_per_epoch": self.steps_per_epoch, "warmup_epochs": self.warmup_epochs}
