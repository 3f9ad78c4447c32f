"""Corrupted state files: the run falls back to the intact previous version or stops with one clear error.

Never a traceback, never a silent restart, never a finished result lost. Cases: a searcher state cut
in half, emptied, or valid JSON of the wrong shape; the newest checkpoint's data cut short; the
checkpoint index garbled; history.json cut in half; HURRICANE's stage search state cut in half.
"""
from __future__ import annotations

import functools
import glob
import json
import logging
import os
import shutil

import pytest

import tfnas  # noqa: F401

from tfnas.files import PREVIOUS_SUFFIX, CorruptStateError

CUT = {
    "truncated": lambda text: text[: len(text) // 2],
    "emptied": lambda text: "",
    "wrong_shape": lambda text: json.dumps([1, 2, 3]),
}


def corrupt(path: str, how: str) -> None:
    text = open(path).read()
    with open(path, "w") as f:
        f.write(CUT[how](text))


# --- discrete search state -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _table_evaluator():
    """The NAS-Bench-201 table, read once for this file's searches (a lookup: it keeps no search state)."""
    from tfnas.benchmarks import nasbench201 as nb

    return nb.load_evaluator(None, "cifar10")


def _tabular_search(output_dir: str, evaluations: int):
    from tfnas.benchmarks import nasbench201 as nb
    from tfnas.search.evolution import RegularizedEvolution
    from tfnas.search.runner import run_to_output_dir

    evaluator = _table_evaluator()
    searcher = RegularizedEvolution(evaluator.space(), evaluator.metric, seed=3, population_size=5, tournament_size=2)
    return run_to_output_dir(searcher, evaluator, evaluations, output_dir, "regularized_evolution",
                             nb.arch_to_string, nb.arch_to_genotype, {"method": "regularized_evolution", "seed": 3})


@pytest.mark.parametrize("how", sorted(CUT))
def test_searcher_state_falls_back_to_the_previous_version(how, tmp_path, caplog):
    reference = _tabular_search(str(tmp_path / "reference"), 20).history
    run = str(tmp_path / "run")
    _tabular_search(run, 12)
    corrupt(os.path.join(run, "searcher_state.json"), how)
    with caplog.at_level(logging.WARNING, logger="tfnas"):
        resumed = _tabular_search(run, 20)
    assert "skipped corrupt" in caplog.text and "searcher_state.json" in caplog.text
    assert resumed.history == reference  # one evaluation is redone from the previous state; the result is the same


def test_searcher_state_without_an_intact_version_is_one_clear_error(tmp_path):
    run = str(tmp_path / "run")
    _tabular_search(run, 12)
    for path in (os.path.join(run, "searcher_state.json"), os.path.join(run, "searcher_state.json" + PREVIOUS_SUFFIX)):
        corrupt(path, "truncated")
    with pytest.raises(CorruptStateError, match="no intact version of .*searcher_state.json.*--fresh"):
        _tabular_search(run, 20)
    assert os.path.exists(os.path.join(run, "search_summary.json"))  # the finished results are still there


def test_another_searchers_state_is_refused_clearly(tmp_path):
    run = str(tmp_path / "run")
    _tabular_search(run, 12)
    state = json.load(open(os.path.join(run, "searcher_state.json")))
    for path in (os.path.join(run, "searcher_state.json"), os.path.join(run, "searcher_state.json" + PREVIOUS_SUFFIX)):
        json.dump({**state, "name": "random"}, open(path, "w"))
    with pytest.raises(CorruptStateError, match="saved by searcher 'random'"):
        _tabular_search(run, 20)


# --- epoch checkpoints and history -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_search(tmp_path_factory, tfds_dir):
    """A tiny Single-DARTS search of 3 epochs (its directory is copied for each corruption)."""
    from tfnas.methods.differentiable_search import SearchConfig

    root = tmp_path_factory.mktemp("sd")

    def config(output_dir, epochs):
        return SearchConfig(output_dir=output_dir, space="nasbench201", data_dir=tfds_dir, layers=1, init_channels=4,
                            image_size=16, epochs=epochs, steps_per_epoch=2, validation_steps=1, batch_size=16,
                            verbose=0)

    from tfnas.methods.differentiable_search import run_differentiable_search

    run_differentiable_search(config(str(root / "three"), 3))
    return root, config, run_differentiable_search


def _copy(finished, tmp_path) -> str:
    root, _, _ = finished
    run = str(tmp_path / "run")
    shutil.copytree(str(root / "three"), run)
    return run


def test_truncated_newest_checkpoint_falls_back_to_the_previous_one(finished_search, tmp_path, caplog):
    _, config, search = finished_search
    run = _copy(finished_search, tmp_path)
    reference = json.load(open(os.path.join(run, "search_summary.json")))
    data = glob.glob(os.path.join(run, "checkpoints", "ckpt-3.data*"))[0]
    open(data, "wb").write(open(data, "rb").read()[:100])
    with caplog.at_level(logging.WARNING, logger="tfnas"):
        summary = search(config(run, 3))
    assert "skipped corrupt checkpoint" in caplog.text and "ckpt-3" in caplog.text
    assert [h["epoch"] for h in summary["epochs"]] == [1, 2, 3]  # epoch 3 redone from checkpoint 2
    assert summary["genotype"] == reference["genotype"]


def test_garbled_checkpoint_index_does_not_restart_the_run(finished_search, tmp_path):
    _, config, search = finished_search
    run = _copy(finished_search, tmp_path)
    with open(os.path.join(run, "checkpoints", "checkpoint"), "w") as f:
        f.write("model_checkpoint_path: {{{ garbled")
    history_before = json.load(open(os.path.join(run, "history.json")))
    summary = search(config(run, 3))  # resumes from ckpt-3 found on disk: nothing is trained again
    assert summary["epochs"] == history_before
    assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(run, "checkpoints", "ckpt-*.index"))) == \
        ["ckpt-2.index", "ckpt-3.index"]


def test_every_checkpoint_corrupt_is_one_clear_error(finished_search, tmp_path):
    _, config, search = finished_search
    run = _copy(finished_search, tmp_path)
    for data in glob.glob(os.path.join(run, "checkpoints", "ckpt-*.data*")):
        open(data, "wb").write(b"not a checkpoint")
    with pytest.raises(CorruptStateError, match="no intact checkpoint.*--fresh"):
        search(config(run, 3))
    assert os.path.exists(os.path.join(run, "genotype.json"))


def test_truncated_history_falls_back_to_the_previous_version(finished_search, tmp_path, caplog):
    _, config, search = finished_search
    run = _copy(finished_search, tmp_path)
    reference = json.load(open(os.path.join(run, "history.json")))
    corrupt(os.path.join(run, "history.json"), "truncated")
    with caplog.at_level(logging.WARNING, logger="tfnas"):
        summary = search(config(run, 3))
    assert "history.json" in caplog.text
    assert [h["epoch"] for h in summary["epochs"]] == [1, 2, 3]
    assert summary["epochs"][:2] == reference[:2]


def test_a_state_file_exists_at_every_instant_of_a_rewrite(tmp_path, monkeypatch):
    """A process killed while rewriting its state leaves the newest complete state under its own name
    (a killed search driver must not resume from the one before and redo a result it had saved)."""
    from tfnas import files

    path = str(tmp_path / "state.json")
    files.write_state(path, {"n": 1})
    files.write_state(path, {"n": 2})

    def killed(*args, **kwargs):
        assert files.read_json(path) == {"n": 2}  # still there while the new version is being written
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(files, "write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        files.write_state(path, {"n": 3})
    assert files.read_json(path) == {"n": 2} and files.read_json(path + PREVIOUS_SUFFIX) == {"n": 2}
    monkeypatch.undo()
    files.write_state(path, {"n": 3})
    assert files.read_json(path) == {"n": 3} and files.read_json(path + PREVIOUS_SUFFIX) == {"n": 2}
