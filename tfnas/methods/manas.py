"""MANAS driver: ``run_manas_search(config)`` runs (or resumes) a multi-agent search into a run directory.

Two modes share the agents and the ask/tell searcher (``tfnas.search.manas.ManasSearcher``):

* tabular (``benchmark="nasbench201"``): the 6 edges of the NAS-Bench-201 cell are 6 agents over
  its 5 ops; a round's loss is ``1 - test accuracy / 100`` of the sampled cell from the table
  (plus ``loss_noise``). Seconds per search: where the agents' learning and regret are measured.
* supernet (no benchmark): the sampled DARTS supernet with one agent per edge of every cell.
  Not part of this build yet: asking for it fails with one clear error before any work.

The run directory (``tfnas.run_dir``, through ``tfnas.search.runner``): searcher_state.json after
every round (agent state included, so a re-run resumes exactly), run_config.json (a resume with
other settings is refused), search_summary.json (``history`` per round with ``arch`` and ``metrics``, the
best sampled, the ``recommended`` architecture with its table metrics, the agents' final
distributions), genotype.json (the recommendation) and TensorBoard events (the runner's
scalars in tensorboard/, the agents' views in tensorboard/manas). Nothing here imports
TensorFlow.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import numpy as np

from tfnas.errors import ConfigError
from tfnas.files import read_json, write_json
from tfnas.run_dir import RunDirectory
from tfnas.search.manas import ManasSearcher, check_search_settings
from tfnas.search.manas_agents import LeastSquaresAgents, LossScale

BENCHMARKS = ("nasbench201",)


class ManasModeUnavailable(ConfigError):
    """A MANAS mode this build does not provide."""


@dataclasses.dataclass(frozen=True)
class ManasConfig:
    """Everything a MANAS search run needs (the binary fills it from flags)."""

    output_dir: str
    agent: str = "exp3"
    eta: float | None = None  # None: EXP3's sqrt(2 ln K / (T K)) with T = max_rounds
    gamma: float = 0.0
    ridge: float = 1.0
    loss_noise: float = 0.0
    recommend: str = "argmax"
    seed: int = 0
    max_rounds: int = 300
    benchmark: str | None = None
    benchmark_file: str | None = None
    objective: str = "cifar10"
    heatmap_every: int = 25
    fresh: bool = False
    verbose: bool = False

    def check(self) -> None:
        """Every setting that can be checked without loading anything; raises UserInputError subclasses."""
        check_search_settings(self.agent, self.eta, self.gamma, self.ridge, self.loss_noise, self.recommend)
        if self.max_rounds < 1:
            raise ConfigError(f"--max_rounds must be at least 1, got {self.max_rounds}")
        if self.heatmap_every < 1:
            raise ConfigError(f"--heatmap_every must be at least 1, got {self.heatmap_every}")
        if self.benchmark is not None and self.benchmark not in BENCHMARKS:
            raise ConfigError(f"unknown --benchmark {self.benchmark!r}; choose one of {list(BENCHMARKS)}")

    def run_settings(self) -> dict[str, Any]:
        """What decides the result (run_config.json): a resume must match it. The round budget is
        in it only where it sets EXP3's default eta; otherwise raising --max_rounds continues a run."""
        exp3, ls = self.agent == "exp3", self.agent == "least_squares"
        return {"method": "manas", "agent": self.agent, "seed": self.seed, "benchmark": self.benchmark,
                "objective": self.objective, "loss_noise": self.loss_noise, "recommend": self.recommend,
                "eta": self.eta if exp3 else None, "gamma": self.gamma if exp3 else None,
                "horizon": self.max_rounds if exp3 and self.eta is None else None,
                "ridge": self.ridge if ls else None}


def run_manas_search(config: ManasConfig, after_round: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run or resume the search ``config`` describes; returns the final search_summary.json content.

    ``after_round(n)`` runs once round ``n`` is saved (a hook for progress reports and tests).
    """
    config.check()
    if config.benchmark is None:
        raise ManasModeUnavailable(
            "MANAS supernet mode (searching DARTS cells on --dataset) is not available in this build yet; "
            "run the tabular mode with --benchmark=nasbench201")
    return _run_tabular(config, after_round)


def _run_tabular(config: ManasConfig, after_round: Callable[[int], None] | None) -> dict[str, Any]:
    from tfnas.benchmarks import nasbench201 as nb
    from tfnas.search import runner
    from tfnas.search.manas_summaries import ManasTensorBoard

    evaluator = nb.load_evaluator(config.benchmark_file, config.objective)
    space = evaluator.space()
    searcher = ManasSearcher(space, evaluator.metric, agent=config.agent, seed=config.seed, eta=config.eta,
                             gamma=config.gamma, horizon=config.max_rounds, ridge=config.ridge,
                             loss_scale=LossScale.accuracy_percent(), loss_noise=config.loss_noise,
                             recommend_by=config.recommend)
    run_dir = RunDirectory(config.output_dir, fresh=config.fresh)  # moved aside before anything is written
    run_dir.check_config(config.run_settings(), resumable_keys=())
    board = ManasTensorBoard(os.path.join(run_dir.tensorboard, "manas"), space, evaluator.metric,
                             config.heatmap_every, last_round=config.max_rounds)

    def on_result(n: int, arch, metrics) -> None:
        board.on_round(n, searcher.agents, arch, searcher.history[-1]["metrics"])  # with the agents' loss
        if after_round is not None:
            after_round(n)

    _, optimum = evaluator.best_feasible()
    extra = {"benchmark": "nasbench201", "benchmark_file": evaluator.table.path, "table_best_feasible": optimum,
             "loss": "1 - accuracy / 100 (+ loss_noise), clipped to [0, 1]", "config": config.run_settings()}
    try:
        runner.run_to_output_dir(searcher, evaluator, config.max_rounds, config.output_dir, "manas",
                                 nb.arch_to_string, nb.arch_to_genotype, config.run_settings(), extra,
                                 log=_log if config.verbose else None, on_result=on_result)
    finally:
        board.close()
    summary_path = run_dir.file(runner.SUMMARY_FILE)
    summary = read_json(summary_path)
    recommended = searcher.recommend()
    summary["recommended_metrics"] = evaluator.table.row(recommended)
    summary["agents"] = agents_summary(searcher)
    write_json(summary_path, summary)
    return summary


def agents_summary(searcher: ManasSearcher) -> dict[str, Any]:
    """The agents' final view per choice: probabilities (and MANAS-LS' fitted contributions)."""
    agents = searcher.agents
    probabilities, contributions = agents.probabilities(), None
    if isinstance(agents, LeastSquaresAgents):
        contributions = agents.contributions()
    out: dict[str, Any] = {"kind": agents.kind, "rounds": agents.rounds, "mean_entropy": float(agents.entropy().mean()),
                           "choices": {}}
    for i, choice in enumerate(searcher.space.choices):
        entry = {"probabilities": dict(zip(map(str, choice.options), np.round(probabilities[i], 6).tolist()))}
        if contributions is not None:
            entry["ls_contributions"] = dict(zip(map(str, choice.options), np.round(contributions[i], 6).tolist()))
        out["choices"][choice.name] = entry
    if isinstance(agents, LeastSquaresAgents):
        out["ls_bias"] = agents.bias()
    return out


def _log(message: str) -> None:
    from absl import logging

    logging.info(message)


__all__ = ["BENCHMARKS", "ManasConfig", "ManasModeUnavailable", "agents_summary", "run_manas_search"]
