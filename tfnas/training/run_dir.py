"""An output directory that survives interruptions: resume by default, start over on request.

Layout of ``output_dir`` (every binary follows it):
  checkpoints/          tf.train checkpoints, one per completed epoch (the last two kept)
  tensorboard/          TensorBoard events
  history.json          per-epoch metrics so far (rewritten atomically each epoch)
  run_config.json       the configuration the run started with (a resumed run must match it)
  previous-<time>/      what --fresh moved aside (nothing is ever deleted)
"""
from __future__ import annotations

import datetime
import os
import shutil
from typing import Any, Mapping

from tfnas.errors import UserInputError
from tfnas.files import as_json, read_json, write_json


class RunConfigMismatch(UserInputError):
    """A resumed run's configuration differs from the one its output_dir was started with."""




class RunDirectory:
    """Paths and resume bookkeeping of one run's output directory."""

    def __init__(self, output_dir: str, fresh: bool = False):
        if not output_dir:
            raise ValueError("--output_dir is required: results, checkpoints and TensorBoard events go there")
        self.path = os.path.abspath(output_dir)
        if fresh and os.path.isdir(self.path) and os.listdir(self.path):
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            aside = os.path.join(self.path, f"previous-{stamp}")
            os.makedirs(aside)
            for entry in os.listdir(self.path):
                if not entry.startswith("previous-"):
                    shutil.move(os.path.join(self.path, entry), os.path.join(aside, entry))
        os.makedirs(self.checkpoints, exist_ok=True)
        os.makedirs(self.tensorboard, exist_ok=True)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def checkpoints(self) -> str:
        return self.file("checkpoints")

    @property
    def tensorboard(self) -> str:
        return self.file("tensorboard")

    @property
    def history_path(self) -> str:
        return self.file("history.json")

    def history(self) -> list[dict[str, Any]]:
        return read_json(self.history_path, [])

    def check_config(self, config: Mapping[str, Any], resumable_keys: tuple[str, ...] = ("epochs",)) -> None:
        """Record the run's config, or check a resumed run against it.

        Keys in ``resumable_keys`` may change between runs (e.g. more epochs); any other change
        raises RunConfigMismatch naming the keys, since mixing configurations in one run
        silently corrupts it.
        """
        path = self.file("run_config.json")
        saved = read_json(path)
        config = as_json(dict(config))
        if saved is None or not os.listdir(self.checkpoints):
            write_json(path, config)
            return
        changed = sorted(k for k in set(saved) | set(config)
                         if k not in resumable_keys and saved.get(k) != config.get(k))
        if changed:
            diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {config.get(k)!r}" for k in changed)
            raise RunConfigMismatch(
                f"{self.path} holds a run started with different settings ({diffs}). Re-run with the "
                "original flags to resume it, pass --fresh to move it aside and start over, or use "
                "another --output_dir.")
        write_json(path, config)
