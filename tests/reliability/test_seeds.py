"""--seed decides a search: another seed gives another search (the kill harness shows the same seed
gives the same one, killed or not)."""
from __future__ import annotations

import json
import os

import pytest
from absl import flags

import tfnas  # noqa: F401
from binaries import search_evolution, search_pnas, search_random

FLAGS = flags.FLAGS
TABULAR = {
    search_random: [],
    search_evolution: ["--evolution_population_size=8", "--evolution_tournament_size=3"],
    search_pnas: ["--smbo_initial_size=8", "--smbo_batch_size=4", "--pnas_ensemble_size=1",
                  "--pnas_surrogate_epochs=5"],
}


def _history(binary, output_dir, seed, extra):
    FLAGS.unparse_flags()
    FLAGS(["binary", "--benchmark=nasbench201", f"--output_dir={output_dir}", "--verbose=0", "--max_evaluations=12",
           f"--seed={seed}", *extra])
    binary.search()
    with open(os.path.join(output_dir, "search_summary.json")) as f:
        return [h["arch"] for h in json.load(f)["history"]]


@pytest.mark.parametrize("binary", list(TABULAR), ids=lambda b: b.__name__.split(".")[-1])
def test_another_seed_searches_other_architectures(tmp_path, binary):
    first = _history(binary, str(tmp_path / "s0"), 0, TABULAR[binary])
    other = _history(binary, str(tmp_path / "s1"), 1, TABULAR[binary])
    assert first != other and len(first) == len(other) == 12


def test_another_seed_trains_another_supernet(tmp_path, tfds_dir):
    from tfnas.methods.differentiable_search import SearchConfig, run_differentiable_search

    def alphas(seed):
        summary = run_differentiable_search(SearchConfig(
            output_dir=str(tmp_path / f"s{seed}"), space="nasbench201", data_dir=tfds_dir, epochs=1, steps_per_epoch=2,
            validation_steps=1, batch_size=16, layers=1, init_channels=4, seed=seed, verbose=0))
        return summary["architecture"]["alphas"]["cell"], summary["epochs"][-1]["loss"]

    (a0, loss0), (a1, loss1) = alphas(0), alphas(1)
    assert a0 != a1 and loss0 != loss1
