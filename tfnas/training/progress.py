"""One readable line per epoch (metrics, elapsed, time left) instead of Keras' two per epoch.

``verbose`` keeps Keras' meaning at the ends: 0 silent, 1 Keras' progress bar. The default 2 is
this module's line, e.g.

    search epoch 3/10  loss 1.234  accuracy 0.5625  val_accuracy 0.5312  0:42 elapsed, ~1:38 left

where Keras would print "Epoch 3/10" and a line of every metric at full precision. The estimate
is this process's time per epoch so far times the epochs left (a resumed run counts from its
restart).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import tensorflow as tf

keras = tf.keras

MAX_METRICS = 5
FIRST = ("loss", "accuracy", "val_loss", "val_accuracy")
"""Shown first when an epoch logs more than MAX_METRICS values."""


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _number(value: Any) -> str:
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


class EpochProgress(keras.callbacks.Callback):
    """Prints ``<label> epoch k/N  <metrics>  <elapsed>, ~<left> left`` at the end of every epoch."""

    def __init__(self, label: str, epochs: int, print_fn: Callable[[str], None] = print):
        super().__init__()
        self.label, self.epochs, self.print_fn = label, epochs, print_fn
        self.started: float | None = None
        self.first_epoch = 0

    def on_train_begin(self, logs=None):
        self.started = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.started is None:
            self.started, self.first_epoch = time.perf_counter(), epoch

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - (self.started or time.perf_counter())
        done = epoch + 1 - self.first_epoch
        left = elapsed / max(done, 1) * (self.epochs - epoch - 1)
        logs = {k: v for k, v in (logs or {}).items() if not k.startswith("_") and k not in ("lr", "learning_rate")}
        keys = [k for k in FIRST if k in logs] + [k for k in logs if k not in FIRST]
        metrics = [f"{k} {_number(logs[k])}" for k in keys[:MAX_METRICS]]
        tail = f"{_clock(elapsed)} elapsed" + (f", ~{_clock(left)} left" if epoch + 1 < self.epochs else "")
        self.print_fn(f"{self.label} epoch {epoch + 1}/{self.epochs}  " + "  ".join(metrics) + f"  {tail}")


def fit_verbosity(verbose: int, label: str, epochs: int) -> tuple[int, list[keras.callbacks.Callback]]:
    """(Keras' ``verbose`` for fit, callbacks to add) for a job's ``verbose`` setting."""
    if verbose == 2:
        return 0, [EpochProgress(label, epochs, print_fn=lambda line: print(line, flush=True))]
    return verbose, []
