"""TrialLog: the HParams trials of a search stay one per evaluation through kills and resumes, in one experiment."""
from __future__ import annotations

import glob
import os

import pytest
from conftest import read_trials
from tfnas.search.trials import TrialLog

OPTIONS = {"heads": ("identity", 1, 2), "width": (8, 16), "ratio": (1, 0.5), "block": ([0, 1], [1, 2])}


def _history(count):
    return [{"arch": {"heads": ("identity", 1, 2)[i % 3], "width": (8, 16)[i % 2], "ratio": (1, 0.5)[i % 2],
                      "block": [[0, 1], [1, 2]][i % 2]},
             "metrics": {"accuracy": i / 10, "in_window": True}} for i in range(count)]


def test_mixed_columns_are_text_and_every_entry_is_one_trial(tmp_path):
    logdir = str(tmp_path / "trials")
    history = _history(4)
    log = TrialLog(logdir, OPTIONS, metrics=lambda arch, m: {**m, "params": arch["width"] * 2})
    for n in range(1, 5):
        log.sync(history[:n])
    read = read_trials(logdir)
    assert {k: sorted(v) for k, v in read["experiment"]["hparams"].items()} == {
        "heads": ["1", "2", "identity"], "width": [8.0, 16.0], "ratio": [0.5, 1.0], "block": ["[0, 1]", "[1, 2]"]}
    assert read["experiment"]["metrics"] == ["trial/accuracy", "trial/params"]  # the bool is not a metric
    assert sorted(read["trials"]) == ["00001", "00002", "00003", "00004"]
    second = read["trials"]["00002"]
    assert second["id"] == "2"
    assert second["hparams"] == {"heads": "1", "width": 16.0, "ratio": 0.5, "block": "[1, 2]"}
    assert second["metrics"] == {"trial/accuracy": pytest.approx(0.1), "trial/params": 32.0}


def test_a_resumed_log_writes_what_a_kill_left_out_and_nothing_twice(tmp_path):
    logdir = str(tmp_path / "trials")
    history = _history(5)
    log = TrialLog(logdir, OPTIONS)
    for n in range(1, 4):
        log.sync(history[:n])
    # Killed after the searcher saved result 3 but before its trial was complete.
    os.rename(os.path.join(logdir, "00003"), os.path.join(logdir, ".00003.writing"))
    resumed = TrialLog(logdir, OPTIONS)
    resumed.sync(history[:4])  # the resumed search's first new result
    resumed.sync(history)
    resumed.sync(history)  # after the search: nothing new
    read = read_trials(logdir)
    assert {d: t["id"] for d, t in read["trials"].items()} == {f"{n:05d}": str(n) for n in range(1, 6)}
    assert [t["metrics"]["trial/accuracy"] for _, t in sorted(read["trials"].items())] == pytest.approx(
        [0.0, 0.1, 0.2, 0.3, 0.4])
    assert len(glob.glob(os.path.join(logdir, "events.*"))) == 1  # declared once
    assert not glob.glob(os.path.join(logdir, ".*"))


def test_parts_share_one_experiment_and_trials_beyond_the_history_go(tmp_path):
    logdir = str(tmp_path / "trials")
    options = {**OPTIONS, "stage": ("stage1", "stage2")}
    history = _history(3)
    for stage in ("stage1", "stage2"):
        TrialLog(logdir, options, folder=stage, hparams=lambda arch, s=stage: {**arch, "stage": s}).sync(history)
    # A state that fell back to its previous version: stage 2 resumes with two results.
    TrialLog(logdir, options, folder="stage2", hparams=lambda arch: {**arch, "stage": "stage2"}).sync(history[:2])
    read = read_trials(logdir)
    assert read["experiment"]["hparams"]["stage"] == ["stage1", "stage2"]
    assert len(glob.glob(os.path.join(logdir, "events.*"))) == 1
    assert {d: (t["id"], t["hparams"]["stage"]) for d, t in read["trials"].items()} == {
        **{f"stage1/{n:05d}": (f"stage1/{n}", "stage1") for n in (1, 2, 3)},
        **{f"stage2/{n:05d}": (f"stage2/{n}", "stage2") for n in (1, 2)}}
