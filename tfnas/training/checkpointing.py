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
import logging
import math
import os
import re
import shutil
import time
from typing import Any, Callable

import tensorflow as tf

from tfnas.errors import TrainingDiverged
from tfnas.files import CorruptStateError
from tfnas.run_dir import RunDirectory

keras = tf.keras
_log = logging.getLogger("tfnas")


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
    ``extra`` trackables (e.g. a ``JsonState``).

    The last two checkpoints are kept. ``restore_latest`` restores the newest one that is intact:
    a checkpoint whose data is cut short, or an index file that is garbled, is skipped with a
    one-line warning naming it and the previous intact checkpoint is used (found by scanning the
    directory when the index cannot be trusted); when checkpoint files exist but none restores, a
    clear error says so. A run never silently starts over on top of its own checkpoints.

    On a multi-worker run's non-chief worker (``run_dir.writer`` False) it restores from the
    chief's checkpoints without touching them, and saves (every worker takes part in a save: the
    per-replica statistics are all-reduced as they are read) into its scratch directory, deleted
    right after.
    """

    def __init__(self, model: keras.Model, run_dir: RunDirectory, max_to_keep: int = 2, **extra):
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="completed_epochs")
        self.wall_time = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="wall_time_s")
        self.checkpoint = tf.train.Checkpoint(model=model, epoch=self.epoch, wall_time=self.wall_time, **extra)
        self.run_dir = run_dir
        self.directory = run_dir.checkpoints
        self.max_to_keep = max_to_keep
        self.writer = run_dir.writer
        self.manager = self._manager()

    def _manager(self) -> tf.train.CheckpointManager:
        if not self.writer:  # a non-chief worker saves into its scratch directory
            return tf.train.CheckpointManager(self.checkpoint, os.path.join(self.run_dir.scratch, "checkpoints"), 1)
        try:
            return tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=self.max_to_keep)
        except Exception as e:  # a garbled index: rebuilt from the files themselves on restore
            _log.warning("checkpoint index %s is unreadable (%s: %s); scanning the checkpoint files instead",
                         os.path.join(self.directory, "checkpoint"), type(e).__name__, e)
            os.replace(os.path.join(self.directory, "checkpoint"), os.path.join(self.directory, "checkpoint.corrupt"))
            return tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=self.max_to_keep)

    def _candidates(self) -> list[str]:
        """Checkpoint prefixes, newest first: the index's and every ckpt-N found on disk."""
        files = os.listdir(self.directory) if os.path.isdir(self.directory) else []
        found = {int(m.group(1)): os.path.join(self.directory, f"ckpt-{m.group(1)}")
                 for m in (re.fullmatch(r"ckpt-(\d+)\.index", f) for f in files) if m}
        for prefix in self.manager.checkpoints if self.writer else ():
            m = re.search(r"ckpt-(\d+)$", prefix)
            if m:
                found.setdefault(int(m.group(1)), prefix)
        return [found[n] for n in sorted(found, reverse=True)]

    def restore_latest(self) -> int:
        """Restore the newest intact checkpoint if there is one; return the number of completed epochs.

        A checkpoint newer than the history's last record (its history.json record was lost) is not
        used: the run goes back to the checkpoint the history still describes and redoes the rest.
        """
        candidates = self._candidates()
        recorded = len(self.run_dir.history())
        newer = [p for p in candidates if _number(p) > recorded]
        if newer:
            _log.warning("history.json records %d epochs; not resuming from the newer %s", recorded,
                         ", ".join(os.path.basename(p) for p in newer))
            candidates = [p for p in candidates if p not in newer]
        problems = []
        for prefix in candidates:
            try:
                self.checkpoint.restore(prefix).assert_existing_objects_matched()
            except (tf.errors.OpError, ValueError, IndexError, AssertionError, KeyError, TypeError) as e:
                problems.append(f"{os.path.basename(prefix)}: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
                continue
            if self.writer and (problems or prefix != self.manager.latest_checkpoint):
                if problems:
                    _log.warning("skipped corrupt checkpoint(s) %s; resumed from %s", "; ".join(problems), prefix)
                # Point the index at what was restored, so later saves rotate from it.
                older = candidates[candidates.index(prefix):][: self.max_to_keep]
                _write_index(self.directory, prefix, older[::-1])
                self.manager = self._manager()
            return int(self.epoch.numpy())
        if problems or newer:
            problems += [f"{os.path.basename(p)}: newer than history.json" for p in newer]
            raise CorruptStateError(f"no intact checkpoint in {self.directory} ({'; '.join(problems)}); pass --fresh to "
                                    "move the run aside and start over (nothing is deleted)")
        return 0

    def save(self, completed_epochs: int, wall_time_s: float) -> str:
        self.epoch.assign(completed_epochs)
        self.wall_time.assign(wall_time_s)
        path = self.manager.save(checkpoint_number=completed_epochs)
        if not self.writer:  # only the chief's checkpoints are kept
            shutil.rmtree(self.manager.directory, ignore_errors=True)
            self.manager = self._manager()
        return path


def _number(prefix: str) -> int:
    return int(re.search(r"ckpt-(\d+)$", prefix).group(1))


def _write_index(directory: str, latest: str, paths: list[str]) -> None:
    """Rewrite the checkpoint index (TensorFlow's own writer; the public alias only adds a deprecation notice)."""
    from tensorflow.python.checkpoint import checkpoint_management

    checkpoint_management.update_checkpoint_state_internal(directory, latest, all_model_checkpoint_paths=paths,
                                                           save_relative_paths=True)


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
        # History first: a kill between the two writes leaves the checkpoint one epoch behind, and
        # the resumed run redoes that epoch and rewrites its record (never a checkpoint without one).
        self.run_dir.write_history(self.history)
        self.state.save(epoch + 1, wall)

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
