"""Every evaluated architecture of a discrete search as a trial of TensorBoard's HParams dashboard.

As KerasTuner logs its trials: the experiment (each hparam's possible values, the metric tags) is
declared once at the top of a log directory, and each trial writes its hparams and its metrics
(scalars ``trial/<metric>``) to a directory of its own, so the dashboard's table can sort and
filter every evaluated architecture by its choices and metrics. TensorBoard reads one experiment
declaration per log directory, so searches with several parts (HURRICANE's stages) share one
declaration and put each part's trials in a sub-folder (``folder``).

Used by ``tfnas.search.runner`` (random, evolution, PNAS, MANAS) and by the HURRICANE and ViTAS
drivers, whose evolutions run ``run_search`` themselves. ``sync(history)`` after every result
keeps the trials equal to the searcher's history: a search killed after it saved a result but
before that result's trial was written writes the trial when it resumes, and a trial is written
into a staging directory and renamed into place, so a kill never leaves half a trial behind.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from tfnas.summary_writer import SummaryWriter

Architecture = Mapping[str, Any]
HParams = Callable[[Architecture], Mapping[str, Any]]
Metrics = Callable[[Architecture, Mapping[str, Any]], Mapping[str, Any]]
PLAIN = (bool, int, float, str)


def space_options(space: Any) -> dict[str, Sequence[Any]] | None:
    """Each choice of ``space`` with its options (None without a space: TensorBoard then infers them)."""
    if space is None:
        return None
    return {c.name: tuple(c.options) for c in space.choices}


class TrialLog:
    """Trials ``<logdir>/<folder>/<n>`` of one HParams experiment declared in ``logdir``.

    ``options`` declares each hparam's values (a column whose values mix types, such as ViTAS'
    heads ``identity``/1/2/4, is shown as text, as are values that are not plain numbers or strings,
    such as PNAS blocks: JSON). ``hparams(arch)`` gives a trial's hparams (default: the
    architecture's choices), ``metrics(arch, metrics)`` its metrics (default: the evaluation's);
    numeric metrics are logged, the first trial's names are declared.
    """

    def __init__(self, logdir: str, options: Mapping[str, Sequence[Any]] | None = None, folder: str = "",
                 hparams: HParams | None = None, metrics: Metrics | None = None):
        self.logdir = logdir
        self.folder = folder
        self.trials_dir = os.path.join(logdir, folder) if folder else logdir
        self.options = None if options is None else {name: tuple(values) for name, values in options.items()}
        self._hparams = hparams or (lambda arch: arch)
        self._metrics = metrics or (lambda arch, values: values)
        self._columns = {name: _column(values) for name, values in (self.options or {}).items()}
        self._logged: int | None = None  # how many history entries are known to have their trial (None: not read yet)
        self._declared = options is None  # without the options TensorBoard infers each column from the trials

    def sync(self, history: Sequence[Mapping[str, Any]]) -> None:
        """Make the trials equal ``history`` (entries ``{"arch", "metrics"}``; trial n is entry n - 1).

        Call it after every result and once after the search (also when it resumed with nothing left
        to evaluate): it writes the trials not written yet and removes trials beyond the history
        (left by a state that was corrupt and fell back to its previous version).
        """
        if self._logged is None:
            on_disk = self._on_disk()
            for n in sorted(k for k in on_disk if k > len(history)):
                shutil.rmtree(self._path(n))
            todo: Sequence[int] = [n for n in range(1, len(history) + 1) if n not in on_disk]
        else:
            todo = range(self._logged + 1, len(history) + 1)
        for n in todo:
            self._write(n, history[n - 1]["arch"], history[n - 1]["metrics"])
        self._logged = len(history)

    def hparams(self, arch: Architecture) -> dict[str, Any]:
        """The trial's hparams as the dashboard shows them (numbers, strings; the rest as JSON)."""
        return {name: self._columns.get(name, _as_shown)(value) for name, value in self._hparams(arch).items()}

    def _write(self, n: int, arch: Architecture, metrics: Mapping[str, Any]) -> None:
        numeric = {k: float(v) for k, v in self._metrics(arch, metrics).items()
                   if isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))}
        if not self._declared:
            if not glob.glob(os.path.join(self.logdir, "events.*")):  # declared by an earlier run or stage
                self._declare(numeric)
            self._declared = True
        staging = os.path.join(self.trials_dir, f".{n:05d}.writing")
        shutil.rmtree(staging, ignore_errors=True)  # what a killed write left
        with SummaryWriter(staging) as trial:
            trial.hparams_trial(self.hparams(arch), trial_id=f"{self.folder}/{n}" if self.folder else str(n))
            for name, value in numeric.items():
                trial.scalar(f"trial/{name}", value, n)
        os.rename(staging, self._path(n))

    def _declare(self, numeric: Mapping[str, float]) -> None:
        staging = os.path.join(self.logdir, ".experiment.writing")
        shutil.rmtree(staging, ignore_errors=True)
        with SummaryWriter(staging) as experiment:
            experiment.hparams_config({name: [self._columns[name](v) for v in values]
                                       for name, values in self.options.items()}, [f"trial/{k}" for k in numeric])
        for name in os.listdir(staging):
            os.rename(os.path.join(staging, name), os.path.join(self.logdir, name))
        os.rmdir(staging)

    def _path(self, n: int) -> str:
        return os.path.join(self.trials_dir, f"{n:05d}")

    def _on_disk(self) -> set[int]:
        if not os.path.isdir(self.trials_dir):
            return set()
        return {int(name) for name in os.listdir(self.trials_dir) if name.isdigit()}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _as_shown(value: Any) -> Any:
    """A plain number or string as it is, anything else as JSON text."""
    value = _plain(value)
    return value if isinstance(value, PLAIN) else json.dumps(value)


def _as_text(value: Any) -> str:
    value = _plain(value)
    return value if isinstance(value, str) else json.dumps(value)


def _column(values: Sequence[Any]) -> Callable[[Any], Any]:
    """How one hparam's values are shown: TensorBoard's columns hold one type (bool, number or string)."""
    kinds = {type(_plain(v)) for v in values}
    if len(kinds) == 1 and kinds <= set(PLAIN):
        return _plain
    if kinds <= {int, float}:
        return lambda v: float(_plain(v))
    return _as_text
