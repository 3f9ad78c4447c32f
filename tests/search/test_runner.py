"""run_to_output_dir with a user's own space: plain-dict genotypes, a stop target, HParams trials."""
from __future__ import annotations

import json

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
    from conftest import read_trials

    searcher = _run(str(tmp_path / "run"), evaluations=5)
    trials = read_trials(str(tmp_path / "run" / "tensorboard" / "trials"))["trials"]
    assert sorted(trials) == [f"{n:05d}" for n in range(1, 6)]
    values = []
    for (_, trial), h in zip(sorted(trials.items()), searcher.history):
        assert {k: int(v) for k, v in trial["hparams"].items()} == h["arch"]
        values.append(trial["metrics"]["trial/score"])
    assert values == [h["metrics"]["score"] for h in searcher.history]
