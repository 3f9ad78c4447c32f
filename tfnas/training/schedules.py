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


class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over ``warmup_steps``, then cosine to ``minimum`` at ``total_steps``, stepped per step.

    DeiT / ViTAS' per-iteration schedule: lr = initial * step / warmup during warm-up, then
    minimum + (initial - minimum) * (1 + cos(pi * (step - warmup) / (total - warmup))) / 2.
    """

    def __init__(self, initial: float, total_steps: int, warmup_steps: int = 0, minimum: float = 0.0):
        self.initial, self.minimum = float(initial), float(minimum)
        self.total_steps, self.warmup_steps = int(total_steps), int(warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = float(max(self.warmup_steps, 1))
        span = float(max(self.total_steps - self.warmup_steps, 1))
        progress = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
        cosine = self.minimum + 0.5 * (self.initial - self.minimum) * (1.0 + tf.cos(math.pi * progress))
        if not self.warmup_steps:
            return cosine
        return tf.where(step < self.warmup_steps, self.initial * step / warmup, cosine)

    def get_config(self):
        return {"initial": self.initial, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "minimum": self.minimum}
