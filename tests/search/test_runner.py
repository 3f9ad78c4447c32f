"""run_to_output_dir with a user's own space: plain-dict genotypes, a stop target, HParams trials."""
from __future__ import annotations

import glob
import json
import os

import numpy as np

from tfnas.search.api import CategoricalSpace, Choice
from tfnas.search.random import RandomSearch
from tfnas.search.runner import run_to_output_dir


class Quadratic:
    """A user's own evaluator: the closer x and y are to 3, the better."""

    def evaluate(self, arch):
        return {"score": float(-((arch["x"] - 3) ** 2 + (arch["y"] - 3) ** 2)), "cost": float(arch["x"] + arch["y"])}


SPACE = CategoricalSpace([Choice("x", tuple(range(7))), Choice("y", tuple(range(7)))])


def _run(output_dir, evaluations=30, target=None):
    return run_to_output_dir(RandomSearch(SPACE, "score", seed=1), Quadratic(), evaluations, output_dir, "random",
                             lambda a: dict(a), lambda a: {"space": "mine", **a}, {"method": "random"},
                             target=target)


def test_a_plain_dict_genotype_is_written_as_it_is(tmp_path):
    searcher = _run(str(tmp_path / "run"))
    genotype = json.load(open(tmp_path / "run" / "genotype.json"))
    assert genotype == {"space": "mine", **searcher.best()["arch"]}


def test_the_search_stops_once_the_target_is_reached(tmp_path):
    searcher = _run(str(tmp_path / "run"), evaluations=49, target=0.0)
    assert searcher.best()["metrics"]["score"] == 0.0 and len(searcher.history) < 49
    assert searcher.history[-1]["metrics"]["score"] == 0.0  # it stopped at the first hit
    summary = json.load(open(tmp_path / "run" / "search_summary.json"))
    assert summary["stopped_at_target"] is True and summary["target"] == 0.0


def test_every_evaluation_is_an_hparams_trial(tmp_path):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    searcher = _run(str(tmp_path / "run"), evaluations=5)
    trials = sorted(glob.glob(str(tmp_path / "run" / "tensorboard" / "trials" / "0*")))
    assert len(trials) == 5
    values = []
    for trial, h in zip(trials, searcher.history):
        tags = {}
        for path in glob.glob(os.path.join(trial, "events.*")):
            for event in EventFileLoader(path).Load():
                for v in event.summary.value:
                    tags[v.tag] = v
        start = plugin_data_pb2.HParamsPluginData.FromString(
            tags["_hparams_/session_start_info"].metadata.plugin_data.content).session_start_info
        assert {k: int(v.number_value) for k, v in start.hparams.items()} == h["arch"]
        values.append(float(np.asarray(tags["trial/score"].tensor.float_val)[0]))
    assert values == [h["metrics"]["score"] for h in searcher.history]
