"""Running a search end to end: outputs, TensorBoard, resume, NaN handling, bad configurations."""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tfnas.errors import ConfigError
from tfnas.methods import differentiable
from tfnas.methods.differentiable_search import SearchConfig, run_differentiable_search
from tfnas.spaces.base import load_genotype
from tfnas.training.checkpointing import NonFiniteLoss
from tfnas.run_dir import RunConfigMismatch


# Grappler off for the tests of resume, refusal and NaN handling (its one-off rewrites are a third of a tiny
# run); the first test and the default-settings tests run TensorFlow's default
LIGHT = {"graph_optimization": "light"}


def _config(out, tfds_dir, **kw) -> SearchConfig:
    base = dict(output_dir=str(out), method="single_darts", space="nasbench201", data_dir=tfds_dir, epochs=2,
                steps_per_epoch=2, validation_steps=2, batch_size=16, layers=1, init_channels=4, verbose=0)
    base.update(kw)
    return SearchConfig(**base)


def test_search_writes_genotype_summary_and_tensorboard(tmp_path, tfds_dir):
    summary = run_differentiable_search(_config(tmp_path / "run", tfds_dir, method="darts", space="darts", layers=3))
    run = tmp_path / "run"
    genotype = load_genotype(str(run / "genotype.json"), expected_space="darts")
    on_disk = json.load(open(run / "search_summary.json"))
    for key in ("method", "space", "seed", "wall_time_s", "epochs", "genotype", "architecture"):
        assert key in on_disk
    assert on_disk["method"] == "darts_order1" and on_disk["space"] == "darts"
    assert len(on_disk["epochs"]) == 2 and all("loss" in e and "val_accuracy" in e for e in on_disk["epochs"])
    assert set(on_disk["architecture"]["alphas"]) == {"normal", "reduce"}
    assert genotype.to_json() == summary["genotype"]
    events = glob.glob(str(run / "tensorboard" / "architecture" / "events.*"))
    tags = set()
    for event_file in events:
        for record in tf.compat.v1.train.summary_iterator(event_file):
            tags |= {v.tag for v in record.summary.value}
    assert {"op_weights/normal", "op_weights/reduce", "genotype/parameter_free_ops", "entropy/normal_mean",
            "genotype"} <= tags


def test_interrupted_search_resumes_to_the_same_architecture(tmp_path, tfds_dir, deterministic):
    # Extending --epochs on resume is exact when no rate depends on the total: --arch_step_budget
    # spreads the architecture rate over --epochs (a killed run with unchanged settings is exact
    # either way: tests/reliability/test_kill_resume.py).
    straight = run_differentiable_search(_config(tmp_path / "a", tfds_dir, epochs=3, arch_step_budget=0, **LIGHT))
    run_differentiable_search(_config(tmp_path / "b", tfds_dir, epochs=1, arch_step_budget=0, **LIGHT))
    assert len(json.load(open(tmp_path / "b" / "history.json"))) == 1
    resumed = run_differentiable_search(_config(tmp_path / "b", tfds_dir, epochs=3, arch_step_budget=0, **LIGHT))
    assert [e["epoch"] for e in resumed["epochs"]] == [1, 2, 3]
    np.testing.assert_allclose(resumed["architecture"]["alphas"]["cell"], straight["architecture"]["alphas"]["cell"],
                               rtol=1e-5, atol=1e-6)
    assert resumed["epochs"][-1]["loss"] == pytest.approx(straight["epochs"][-1]["loss"], rel=1e-4)


def test_nan_loss_stops_with_a_clear_error_and_keeps_earlier_results(tmp_path, tfds_dir, monkeypatch):
    run_differentiable_search(_config(tmp_path / "run", tfds_dir, epochs=1, **LIGHT))
    genotype_before = open(tmp_path / "run" / "genotype.json").read()
    original = differentiable.ArchitectureSearchModel._loss_and_gradients

    def poisoned(self, x, y):
        loss, logits, w, a = original(self, x, y)
        return loss * float("nan"), logits, w, a

    monkeypatch.setattr(differentiable.ArchitectureSearchModel, "_loss_and_gradients", poisoned)
    with pytest.raises(NonFiniteLoss, match=r"epoch 2.*last good epoch \(1\)"):
        run_differentiable_search(_config(tmp_path / "run", tfds_dir, epochs=2, **LIGHT))
    assert [e["epoch"] for e in json.load(open(tmp_path / "run" / "history.json"))] == [1]
    assert open(tmp_path / "run" / "genotype.json").read() == genotype_before
    assert os.path.exists(tmp_path / "run" / "checkpoints" / "ckpt-1.index")


@pytest.mark.parametrize("changes, error, message", [
    (dict(method="enas"), ConfigError, "unknown method 'enas'"),
    (dict(space="mobilenet"), ConfigError, "unknown space 'mobilenet'"),
    (dict(method="darts", train_portion=1.0), ConfigError, "train_portion"),
    (dict(method="darts", order=3), ConfigError, "order"),
    (dict(mixed_precision="float64"), ConfigError, "--mixed_precision must be one of"),
])
def test_bad_configurations_are_refused_before_any_work(tmp_path, tfds_dir, changes, error, message):
    with pytest.raises(error, match=message):
        run_differentiable_search(_config(tmp_path / "run", tfds_dir, **changes))


def test_resuming_with_other_settings_is_refused_and_fresh_moves_the_old_run_aside(tmp_path, tfds_dir):
    run_differentiable_search(_config(tmp_path / "run", tfds_dir, epochs=1, **LIGHT))
    with pytest.raises(RunConfigMismatch, match="init_channels: saved 4, now 8"):
        run_differentiable_search(_config(tmp_path / "run", tfds_dir, epochs=1, init_channels=8, **LIGHT))
    run_differentiable_search(_config(tmp_path / "run", tfds_dir, epochs=1, init_channels=8, fresh=True, **LIGHT))
    aside = glob.glob(str(tmp_path / "run" / "previous-*" / "genotype.json"))
    assert len(aside) == 1


def test_a_short_search_with_the_default_settings_decides_the_cell(tmp_path, tfds_dir):
    # The architecture learning rate is raised for short searches (arch_step_budget), so even a few
    # steps move alpha well away from uniform; with the paper's fixed 3e-4 they would not.
    summary = run_differentiable_search(_config(tmp_path / "run", tfds_dir, epochs=2, steps_per_epoch=4))
    assert summary["arch_learning_rate"] == pytest.approx(SearchConfig(output_dir="x").arch_step_budget / 8)
    decision = summary["decision"]
    cell = decision["cells"]["cell"]
    assert decision["uniform_entropy"] == pytest.approx(np.log(5), abs=1e-5)
    assert cell["entropy_ratio"] < 0.7
    probs = np.array(summary["architecture"]["op_weights"]["cell"])
    assert cell["mean_entropy"] == pytest.approx(float(-(probs * np.log(probs)).sum(-1).mean()), abs=1e-4)
    assert [e["op"] for e in cell["edges"]] == list(load_genotype(str(tmp_path / "run" / "genotype.json")).ops)
    assert all(e["margin"] > 0 for e in cell["edges"])


def test_single_level_search_on_the_whole_training_split_reports_in_sample_accuracy(tmp_path, tfds_dir):
    summary = run_differentiable_search(_config(tmp_path / "run", tfds_dir, epochs=1, train_portion=1.0))
    assert summary["train_portion"] == 1.0 and summary["validation_source"] == "training_split"
    assert 0.0 <= summary["epochs"][-1]["val_accuracy"] <= 1.0
