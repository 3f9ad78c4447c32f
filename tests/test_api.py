"""The Python API's discrete searches (random, evolution, PNAS): the binaries' settings, driver and run directory."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from absl import flags

import tfnas
from binaries import search_evolution, search_pnas, search_random
from tfnas.configs.discrete import DiscreteSearchConfig, FlagError
from tfnas.errors import ConfigError
from tfnas.run_dir import OutputDirError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = flags.FLAGS
FAST_PNAS = {"pnas_surrogate_units": 16, "pnas_surrogate_epochs": 30, "pnas_ensemble_size": 2,
             "smbo_initial_size": 8, "smbo_batch_size": 4}
TABULAR = {  # method -> (its binary, its settings beyond the budget)
    "random": (search_random, {}),
    "evolution": (search_evolution, {"evolution_population_size": 8, "evolution_tournament_size": 3}),
    "pnas": (search_pnas, FAST_PNAS),
}


def as_flags(settings: dict) -> list[str]:
    return [f"--{k}" if v is True else f"--no{k}" if v is False else f"--{k}={v}" for k, v in settings.items()]


def binary_summary(binary, output_dir: str, settings: dict) -> dict:
    """``binary`` run in this process on its command line's flags, as tests/search/test_search_binaries.py runs it."""
    FLAGS.unparse_flags()
    FLAGS(["binary", f"--output_dir={output_dir}", *as_flags(settings)])
    binary.search()
    with open(os.path.join(output_dir, "search_summary.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("method", sorted(TABULAR))
def test_a_tabular_search_from_python_is_the_binarys_search(method, tmp_path):
    binary, extra = TABULAR[method]
    settings = {"benchmark": "nasbench201", "max_evaluations": 20, "seed": 2, "verbose": 0, **extra}
    result = tfnas.search_architecture(method, output_dir=str(tmp_path / "api"), **settings)
    summary = result.summary
    assert summary["num_evaluated"] == len(summary["history"]) == 20 and summary["seed"] == 2
    values = [h["metrics"]["cifar10_test_acc"] for h in summary["history"]]
    assert summary["best"]["metrics"]["cifar10_test_acc"] == max(values)
    assert result.genotype.SPACE == "nasbench201" and result.genotype.to_arch_string() == summary["best"]["arch"]
    assert result.output_dir == str(tmp_path / "api") and os.path.exists(result.genotype_path)
    assert binary_summary(binary, str(tmp_path / "binary"), settings)["history"] == summary["history"]


def test_the_found_cell_builds_its_network(tmp_path):
    import numpy as np

    result = tfnas.search_architecture("random", benchmark="nasbench201", max_evaluations=5, verbose=0,
                                       output_dir=str(tmp_path / "random"))
    model = result.build_model(num_classes=10, layers=1, init_channels=4)
    assert model(np.zeros((2, 32, 32, 3), np.float32)).shape == (2, 10)


def test_a_search_started_from_python_resumes_from_the_command_line(tmp_path):
    settings = {"benchmark": "nasbench201", "seed": 5, "verbose": 0, "evolution_population_size": 6,
                "evolution_tournament_size": 2}
    whole = tfnas.search_architecture("evolution", output_dir=str(tmp_path / "whole"), max_evaluations=30, **settings)
    part = str(tmp_path / "part")
    assert tfnas.search_architecture("evolution", output_dir=part, max_evaluations=12, **settings).summary[
        "num_evaluated"] == 12
    proc = subprocess.run([sys.executable, "-m", "binaries.search_evolution", f"--output_dir={part}",
                           "--max_evaluations=30", *as_flags(settings), "--verbose=1"], cwd=ROOT, capture_output=True,
                          text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "resumed from" in proc.stderr and "with 12 evaluated" in proc.stderr, proc.stderr[-2000:]
    resumed = json.load(open(os.path.join(part, "search_summary.json")))
    assert resumed["history"] == whole.summary["history"] and resumed["best"] == whole.summary["best"]
    assert json.load(open(os.path.join(part, "genotype.json"))) == whole.genotype.to_json()
    with pytest.raises(OutputDirError, match="seed"):  # other settings in the same directory: refused, not mixed
        tfnas.search_architecture("evolution", output_dir=part, max_evaluations=30, **{**settings, "seed": 6})


def test_python_defaults_are_the_binarys_defaults():
    FLAGS.unparse_flags()
    FLAGS(["binary"])
    from flags import discrete

    for method in ("random", "evolution", "pnas"):
        assert discrete.config(method) == DiscreteSearchConfig(method=method)


@pytest.mark.parametrize("settings, error, message", [
    ({"benchmark": "nasbench201", "population_size": 3}, ConfigError, "unknown setting.*population_size.*"
                                                                      "evolution_population_size"),
    ({"benchmark": "nasbench201", "evolution_population_size": 3}, FlagError, "exceeds --evolution_population_size"),
    ({"device": "pixel3"}, FlagError, "only apply to tabular search"),
    ({"benchmark": "nasbench201", "num_workers": 2}, FlagError, "--num_workers only apply to --executor=ray"),
    ({"benchmark": "nasbench201", "max_evaluations": 0}, ConfigError, "--max_evaluations must be positive"),
    ({"benchmark": "nasbench201", "pnas_surrogate": "gp"}, ConfigError, "--pnas_surrogate must be one of"),
    ({"benchmark": "nasbench201", "train_data": "images"}, ConfigError, "benchmark='nasbench201'.*drop train_data"),
])
def test_bad_settings_fail_before_anything_is_written(tmp_path, settings, error, message):
    with pytest.raises(error, match=message):
        tfnas.search_architecture("evolution", output_dir=str(tmp_path / "out"), **settings)
    assert not (tmp_path / "out").exists()


PNAS_CANDIDATES = {"pnas_blocks": 1, "pnas_beam_size": 1, "pnas_initial_cells": 2, "pnas_cells": 1,
                   "pnas_filters": 4, "pnas_epochs_per_candidate": 1, "batch_size": 16, "steps_per_epoch": 2,
                   "verbose": 0}
PNAS_SURROGATE = {"pnas_surrogate": "mlp", "pnas_ensemble_size": 1, "pnas_surrogate_units": 8,
                  "pnas_surrogate_epochs": 2, "pnas_surrogate_refit_epochs": 2}


@pytest.mark.parametrize("method, extra", [("pnas", PNAS_SURROGATE), ("random", {"max_evaluations": 2})])
def test_a_real_search_trains_candidates_on_the_users_dataset(method, extra, tmp_path, mnist_small):
    import numpy as np
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices((mnist_small.train_images[:400], mnist_small.train_labels[:400]))
    result = tfnas.search_architecture(method, train_data=train.batch(32), flip=False,
                                       output_dir=str(tmp_path / method), **PNAS_CANDIDATES, **extra)
    summary = result.summary
    assert summary["dataset"].startswith("user:") and summary["space"] == "pnas"
    assert summary["num_evaluated"] == 2 and all(0 <= h["metrics"]["val_accuracy"] <= 100 for h in summary["history"])
    assert result.genotype.SPACE == "pnas" and [list(b) for b in result.genotype.blocks] == summary["best"]["arch"]
    model = result.build_model(num_classes=10, input_shape=(28, 28, 1), layers=1, init_channels=4)
    assert model(np.zeros((1, 28, 28, 1), np.float32)).shape == (1, 10)
    with pytest.raises(FlagError, match="Ray workers cannot load"):
        tfnas.search_architecture(method, train_data=train.batch(32), flip=False, executor="ray",
                                  output_dir=str(tmp_path / "ray"), **PNAS_CANDIDATES, **extra)


def test_a_tabular_search_from_python_never_imports_tensorflow(tmp_path):
    """(PNAS' predictors are Keras networks; random search and evolution need no TensorFlow.)"""
    (tmp_path / "no_tf" / "tensorflow").mkdir(parents=True)
    (tmp_path / "no_tf" / "tensorflow" / "__init__.py").write_text("raise ImportError('tensorflow was imported')\n")
    code = ("import tfnas; r = tfnas.search_architecture('evolution', benchmark='nasbench201', max_evaluations=10, "
            f"verbose=0, output_dir={str(tmp_path / 'evo')!r}); print(r.genotype.to_arch_string())")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "no_tf"), ROOT]))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == json.load(open(tmp_path / "evo" / "search_summary.json"))["best"]["arch"]


def test_a_search_of_the_users_own_table_returns_its_row(tmp_path):
    table = tmp_path / "runs.csv"
    table.write_text("depth,width,accuracy\n" + "".join(f"{d},{w},{80 + d + w / 16}\n" for d in (2, 4, 8)
                                                        for w in (16, 32)))
    result = tfnas.search_architecture("random", benchmark="table", benchmark_file=str(table),
                                       table_choices=["depth", "width"], table_objective="accuracy",
                                       max_evaluations=6, verbose=0, output_dir=str(tmp_path / "out"))
    assert result.summary["table_best_feasible"] == 90.0 == result.summary["best"]["metrics"]["accuracy"]
    assert result.genotype["space"] == "table" and result.genotype["arch"] == {"depth": "8", "width": "32"}
    with pytest.raises(ConfigError, match="row of your own table"):
        result.build_model(num_classes=10)


def test_a_real_search_trains_its_candidates_at_image_size(tmp_path, monkeypatch):
    import tfnas.data as data_lib

    sizes, load = [], data_lib.load_image_data

    def spy(dataset, data_dir=None, image_size=None, **kwargs):
        data = load(dataset, data_dir, image_size=image_size, **kwargs)
        sizes.append(data.image_shape)
        return data

    monkeypatch.setattr(data_lib, "load_image_data", spy)
    result = tfnas.search_architecture("random", dataset="mnist_embedded", image_size=12, max_evaluations=1,
                                       output_dir=str(tmp_path / "random"), **PNAS_CANDIDATES)
    assert sizes == [(12, 12, 1)] and result.summary["num_evaluated"] == 1
    with open(tmp_path / "random" / "run_config.json") as f:
        assert json.load(f)["image_size"] == 12
