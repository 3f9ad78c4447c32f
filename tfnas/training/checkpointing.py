"""Epoch checkpoints that make model.fit resumable: weights, architecture, optimizer slots, RNG.

The model (a Keras model that tracks its optimizers, architecture variables and
tf.random.Generators as attributes) is saved with ``tf.train.Checkpoint`` at the end of every
epoch together with the epoch number; ``restore_latest`` returns the epoch to resume from. The
data pipeline is a stateless function of (seed, epoch) (tfnas.data.train_stream), so a resumed
run sees the same batches as an uninterrupted one.

State kept in Python (a searcher's or bandit agents' JSON state) rides in the same checkpoint as
a ``JsonState`` object, so the weights and that state are written, kept and restored as one
unit: a run killed at any moment resumes from a consistent pair.
"""
from __future__ import annotations

import json
import math
import time
from typing import Any, Callable

import tensorflow as tf

from tfnas.errors import TrainingDiverged
from tfnas.files import write_json
from tfnas.run_dir import RunDirectory

keras = tf.keras


class JsonState(tf.train.experimental.PythonState):
    """JSON-serialisable Python state saved inside a tf.train checkpoint (``get_state()`` when
    saving, ``set_state(state)`` when restoring)."""

    def __init__(self, get_state: Callable[[], Any], set_state: Callable[[Any], None]):
        self._get_state, self._set_state = get_state, set_state

    def serialize(self) -> str:
        return json.dumps(self._get_state(), separators=(",", ":"))

    def deserialize(self, string_value) -> None:
        self._set_state(json.loads(string_value))


class ResumableState:
    """Checkpoint + manager for a model; the epoch counter and accumulated wall time ride along
    (a run that checkpoints every k rounds or steps counts those in ``epoch`` instead), as do the
    ``extra`` trackables (e.g. a ``JsonState``)."""

    def __init__(self, model: keras.Model, run_dir: RunDirectory, max_to_keep: int = 2, **extra):
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="completed_epochs")
        self.wall_time = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="wall_time_s")
        self.checkpoint = tf.train.Checkpoint(model=model, epoch=self.epoch, wall_time=self.wall_time, **extra)
        self.manager = tf.train.CheckpointManager(self.checkpoint, run_dir.checkpoints, max_to_keep=max_to_keep)

    def restore_latest(self) -> int:
        """Restore the last completed epoch if there is one; return the number of completed epochs."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return 0
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.epoch.numpy())

    def save(self, completed_epochs: int, wall_time_s: float) -> str:
        self.epoch.assign(completed_epochs)
        self.wall_time.assign(wall_time_s)
        return self.manager.save(checkpoint_number=completed_epochs)


class NonFiniteLoss(TrainingDiverged):
    """Training produced a NaN/inf loss; the output directory keeps the last good epoch."""


class EpochCheckpoint(keras.callbacks.Callback):
    """At each epoch end: check the loss is finite, checkpoint, and record the epoch's metrics.

    ``extra_record(epoch) -> dict`` adds method-specific fields (e.g. the current genotype) to the
    epoch's history entry. A non-finite loss stops training before anything is saved for that
    epoch, so the last checkpoint and history stay those of the last good epoch.
    """

    def __init__(self, state: ResumableState, run_dir: RunDirectory,
                 extra_record: Callable[[int], dict[str, Any]] | None = None):
        super().__init__()
        self.state, self.run_dir, self.extra_record = state, run_dir, extra_record
        self.history = run_dir.history()
        self.nonfinite: dict[str, Any] | None = None

    def on_train_begin(self, logs=None):
        self._wall_start = time.time()
        self._wall_before = float(self.state.wall_time.numpy())

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.nonfinite = {"epoch": len(self.history) + 1, "batch": int(batch) + 1, "loss": float(loss)}
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.nonfinite is not None:
            return
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if any(not math.isfinite(v) for k, v in logs.items() if k.endswith("loss")):
            self.nonfinite = {"epoch": epoch + 1, "batch": None, "loss": logs.get("loss")}
            self.model.stop_training = True
            return
        wall = self._wall_before + time.time() - self._wall_start
        record = {"epoch": epoch + 1, **logs, "wall_time_s": round(wall, 2)}
        if self.extra_record is not None:
            record.update(self.extra_record(epoch + 1))
        self.history = [h for h in self.history if h["epoch"] <= epoch] + [record]
        self.state.save(epoch + 1, wall)
        write_json(self.run_dir.history_path, self.history)

    @property
    def wall_time_s(self) -> float:
        return self.history[-1]["wall_time_s"] if self.history else 0.0

    def raise_if_nonfinite(self, hint: str) -> None:
        if self.nonfinite is None:
            return
        where = f"epoch {self.nonfinite['epoch']}" + (f", step {self.nonfinite['batch']}" if self.nonfinite['batch'] else "")
        last = len(self.history)
        raise NonFiniteLoss(
            f"the loss became {self.nonfinite['loss']} at {where}. Everything up to the last good epoch ({last}) "
            f"is kept in {self.run_dir.path} (checkpoints, history.json). {hint}")
