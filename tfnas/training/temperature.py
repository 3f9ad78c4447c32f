"""Softmax temperature of the architecture weights over a search: softmax(alpha / T) with T scheduled per epoch.

A differentiable search computes with the mixture softmax(alpha / T); lowering T over the search
sharpens the mixture towards one op per edge, so that at the end the supernet computes (nearly)
the cell that is derived from it. BATS anneals T for binary search; a short Single-DARTS or DARTS
search uses the same schedule to commit on a budget too short for alpha itself to grow apart
(docs/METHODS.md). T = 1 throughout (``constant``) is plain DARTS / Single-DARTS.
"""
from __future__ import annotations

import math

import tensorflow as tf

from tfnas.configs.common import TEMPERATURE_SCHEDULES, validate_temperature_schedule  # noqa: F401  (re-exported)

keras = tf.keras


def temperature_at(epoch: int, epochs: int, initial: float, final: float | None, schedule: str) -> float:
    """T at the start of ``epoch`` (0-based) of ``epochs``: from ``initial`` to ``final``.

    constant: initial throughout. linear / cosine / exponential (geometric): reach ``final`` at
    the start of the last epoch.
    """
    validate_temperature_schedule(schedule)
    if schedule == "constant" or final is None or epochs <= 1:
        return float(initial)
    t = min(max(epoch, 0), epochs - 1) / (epochs - 1)
    if schedule == "linear":
        return initial + (final - initial) * t
    if schedule == "cosine":
        return final + 0.5 * (initial - final) * (1.0 + math.cos(math.pi * t))
    return initial * (final / initial) ** t


class TemperatureSchedule(keras.callbacks.Callback):
    """Sets the supernet's temperature variable at the start of every epoch (resumes correctly)."""

    def __init__(self, supernet, epochs: int, initial: float, final: float | None, schedule: str):
        super().__init__()
        self.supernet, self.epochs = supernet, epochs
        self.initial, self.final, self.schedule = initial, final, schedule

    def on_epoch_begin(self, epoch, logs=None):
        self.supernet.temperature.assign(temperature_at(epoch, self.epochs, self.initial, self.final, self.schedule))
