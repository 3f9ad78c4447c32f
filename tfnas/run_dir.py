"""One output directory behaviour for every tfnas job: resume by re-running, refuse mixed settings.

Every binary (searches, training, the main job) writes into ``--output_dir`` through
``RunDirectory``:
  run_config.json       the settings the run started with; a resumed run must use the same ones
                        (a changed setting is refused naming each differing flag)
  checkpoints/          tf.train checkpoints of resumable training (the last two kept)
  tensorboard/          TensorBoard events
  history.json          per-epoch metrics so far (rewritten atomically each epoch)
  previous-<time>/      what --fresh moved aside (nothing is ever deleted)
plus each job's own results and state files (genotype.json, search_summary.json,
searcher_state.json, stage directories, ...).

Re-running the same command resumes; ``fresh=True`` moves what the directory holds aside first.

A multi-worker run (tfnas.training.distribution) has one such directory, written by its chief; the
other workers open it with ``writer=False``: they read its settings, history and checkpoints and
write nothing into it (no move aside, no run_config.json, no history); TensorBoard events and their
share of a checkpoint save go to a temporary directory of their own (``scratch``).
Settings listed as resumable (more epochs, a larger evaluation budget, verbosity) may change
between runs; anything else is refused once the run has produced state, because mixing two
configurations in one run silently corrupts it.
"""
from __future__ import annotations

import atexit
import datetime
import logging
import os
import shutil
import tempfile
from typing import Any, Mapping, Sequence

from tfnas.errors import UserInputError
from tfnas.files import as_json, read_json, read_state, write_json, write_state

CONFIG_FILE = "run_config.json"
ALWAYS_RESUMABLE = ("fresh", "verbose", "output_dir")
"""Settings that never change a run's result."""
CHANGES_KEY = "_changes"
"""run_config.json's record of the safe settings changed on resume."""
_log = logging.getLogger("tfnas")


class OutputDirError(UserInputError):
    """An output directory that cannot hold this run (a file, or a run with other settings)."""


class RunConfigMismatch(OutputDirError):
    """A resumed run's settings differ from the ones its output_dir was started with."""


class RunDirectory:
    """Paths and resume bookkeeping of one run's output directory."""

    def __init__(self, output_dir: str, fresh: bool = False, writer: bool = True):
        if not output_dir:
            raise OutputDirError("--output_dir is required: results, checkpoints and TensorBoard events go there")
        self.path = os.path.abspath(output_dir)
        check_is_directory(self.path)
        self.writer = writer
        self.scratch: str | None = None
        if not writer:  # a non-chief worker: the chief moves aside, creates and writes
            self.moved_aside = None
            self.scratch = tempfile.mkdtemp(prefix="tfnas-worker-")
            atexit.register(shutil.rmtree, self.scratch, True)
            return
        if fresh and os.path.isdir(self.path) and os.listdir(self.path):
            self.moved_aside = move_aside(self.path)
        else:
            self.moved_aside = None
        os.makedirs(self.checkpoints, exist_ok=True)
        os.makedirs(self.tensorboard, exist_ok=True)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def subdir(self, name: str) -> "RunDirectory":
        """A run directory inside this one (a search stage, a teacher), sharing nothing but the path."""
        return RunDirectory(self.file(name), writer=self.writer)

    @property
    def checkpoints(self) -> str:
        return self.file("checkpoints")

    @property
    def tensorboard(self) -> str:
        return self.file("tensorboard") if self.writer else os.path.join(self.scratch, "tensorboard")

    @property
    def history_path(self) -> str:
        return self.file("history.json")

    @property
    def config_path(self) -> str:
        return self.file(CONFIG_FILE)

    def history(self) -> list[dict[str, Any]]:
        """Per-epoch records so far (the newest intact version of history.json; see ``tfnas.files``)."""
        return read_state(self.history_path, _valid_history, default=[])

    def write_history(self, history: list[dict[str, Any]]) -> None:
        if self.writer:
            write_state(self.history_path, history)

    def started(self) -> bool:
        """Whether the run has produced anything beyond its config and TensorBoard events."""
        for entry in (os.listdir(self.path) if os.path.isdir(self.path) else []):
            if entry in (CONFIG_FILE, "tensorboard") or entry.startswith("previous-"):
                continue
            full = os.path.join(self.path, entry)
            if not os.path.isdir(full) or any(files for _, _, files in os.walk(full)):
                return True
        return False

    def check_config(self, config: Mapping[str, Any], resumable_keys: Sequence[str] = ("epochs",),
                     safe_keys: Sequence[str] = ()) -> None:
        """Record the run's settings, or check a resumed run against them.

        Keys in ``resumable_keys`` (and ``ALWAYS_RESUMABLE``) may change between runs silently (more
        epochs, verbosity). Keys in ``safe_keys`` may change too (a lower learning rate after a NaN, a
        different gradient clip): the change is said on the console and recorded in run_config.json's
        ``_changes``. Any other change raises ``RunConfigMismatch`` naming each differing setting as
        its flag, once the run has produced state (before that, the new settings replace the old).
        """
        config = as_json(dict(config))
        saved = read_json(self.config_path)
        changes = list(saved.get(CHANGES_KEY, [])) if isinstance(saved, dict) else []
        if isinstance(saved, dict) and self.started():
            saved = {k: v for k, v in saved.items() if k != CHANGES_KEY}
            quiet = set(resumable_keys) | set(ALWAYS_RESUMABLE)
            differing = sorted(k for k in set(saved) | set(config) if k not in quiet and saved.get(k) != config.get(k))
            # A setting this tfnas has and the run's tfnas had not: the run used what it then did, which
            # the setting's value now names (said and recorded like a safe change).
            added = [k for k in differing if k not in saved]
            refused = [k for k in differing if k not in safe_keys and k not in added]
            if refused:
                diffs = ", ".join(f"--{k}: saved {saved.get(k)!r}, now {config.get(k)!r}" for k in refused)
                raise RunConfigMismatch(
                    f"{self.path} holds a run started with other settings ({diffs}). Re-run with the original "
                    "flags to resume it, pass --fresh to move it aside and start over, or use another --output_dir.")
            if differing:
                change = {k: {"saved": saved.get(k), "now": config.get(k)} for k in differing}
                changes.append({"time": datetime.datetime.now().isoformat(timespec="seconds"), "changed": change})
                _log.warning("%s: resuming with changed %s (allowed on resume; recorded in %s)", self.path,
                             ", ".join(f"--{k} {saved.get(k)!r} -> {config.get(k)!r}" for k in differing), CONFIG_FILE)
        if self.writer:
            write_json(self.config_path, {**config, **({CHANGES_KEY: changes} if changes else {})})


def move_aside(path: str) -> str:
    """Move everything in ``path`` (but earlier ``previous-*`` folders) into ``path/previous-<time>``."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    aside = os.path.join(path, f"previous-{stamp}")
    os.makedirs(aside)
    for entry in os.listdir(path):
        if not entry.startswith("previous-"):
            shutil.move(os.path.join(path, entry), os.path.join(aside, entry))
    return aside


def check_is_directory(path: str) -> None:
    """A clear error when ``path`` or one of its parents is an existing file."""
    probe = path
    while probe and probe != os.path.dirname(probe):
        if os.path.exists(probe):
            if not os.path.isdir(probe):
                raise OutputDirError(f"--output_dir={path} cannot be created: {probe} is a file, not a directory; "
                                     "pass a directory path")
            return
        probe = os.path.dirname(probe)


def _valid_history(data: Any) -> list[dict[str, Any]]:
    """history.json must be a list of records numbered 1, 2, ...: per epoch (``epoch``), or per round
    for a run that records rounds (``round``: MANAS); else it is a wrong-shape file."""
    if not isinstance(data, list) or not all(isinstance(h, dict) for h in data):
        raise ValueError("not a list of epoch records numbered from 1")
    key = "round" if data and "round" in data[0] else "epoch"
    if any(h.get(key) != i + 1 for i, h in enumerate(data)):
        raise ValueError(f"not a list of {key} records numbered from 1")
    return data
