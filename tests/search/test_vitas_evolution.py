"""ViTAS evolution: only new in-window candidates, (mu + lambda) survival, exact resume from its JSON state."""
from __future__ import annotations

import json

import numpy as np

from tfnas.search.api import run_search
from tfnas.search.vitas_evolution import ViTASEvolution
from tfnas.spaces import vit

SPACE = vit.ViTSpace(vit.space_config("cpu_28"), input_channels=1, num_classes=10)
WINDOW = (0.8, 1.6)
P = vit.tune_identity_probability(SPACE, *WINDOW, seed=0).probability


class WidthScore:
    """A cheap deterministic stand-in for supernet accuracy: wide streams and MLPs score high."""

    def __init__(self):
        self.calls = 0

    def evaluate(self, arch):
        self.calls += 1
        genotype = SPACE.genotype(arch)
        score = genotype.embed_dim / 64 + sum(b.mlp_dim / 128 for b in genotype.blocks if b) / 6
        return {"accuracy": score, "mflops": SPACE.mflops(arch)}


def _searcher(**kwargs) -> ViTASEvolution:
    return ViTASEvolution(SPACE.with_window(*WINDOW), seed=1, population_size=8, generations=4,
                          operators=SPACE.operators(P), **kwargs)


def test_candidates_are_new_inside_the_window_and_the_population_only_improves():
    searcher = run_search(_searcher(), WidthScore(), max_evaluations=10_000)
    assert searcher.finished and len(searcher.survivors) == 4
    keys = [SPACE.categorical.key(h["arch"]) for h in searcher.history]
    assert len(keys) == len(set(keys)) == 4 * 8
    assert all(WINDOW[0] <= h["metrics"]["mflops"] <= WINDOW[1] for h in searcher.history)
    best = [max(p["metrics"]["accuracy"] for p in generation) for generation in searcher.survivors]
    worst = [min(p["metrics"]["accuracy"] for p in generation) for generation in searcher.survivors]
    assert best == sorted(best) and worst == sorted(worst) and worst[-1] > worst[0]
    ranked = sorted(h["metrics"]["accuracy"] for h in searcher.history)[::-1][:8]
    assert sorted((p["metrics"]["accuracy"] for p in searcher.survivors[-1]), reverse=True) == ranked


def test_a_killed_search_resumes_to_the_same_result(tmp_path):
    path = str(tmp_path / "state.json")
    run_search(_searcher(), WidthScore(), max_evaluations=13, state_path=path)  # killed in generation 2
    with open(path) as f:
        json.load(f)  # plain JSON
    resumed = run_search(_searcher(), WidthScore(), max_evaluations=10_000, state_path=path)
    straight = run_search(_searcher(), WidthScore(), max_evaluations=10_000)
    assert [h["arch"] for h in resumed.history] == [h["arch"] for h in straight.history]
    assert resumed.survivors == straight.survivors


def test_more_generations_continue_a_finished_search(tmp_path):
    path = str(tmp_path / "state.json")
    run_search(_searcher(), WidthScore(), max_evaluations=10_000, state_path=path)
    longer = ViTASEvolution(SPACE.with_window(*WINDOW), seed=1, population_size=8, generations=5,
                            operators=SPACE.operators(P))
    scorer = WidthScore()
    run_search(longer, scorer, max_evaluations=10_000, state_path=path)
    assert scorer.calls == 8 and len(longer.survivors) == 5
