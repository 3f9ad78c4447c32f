"""MANAS driver: ``run_manas_search(config)`` runs (or resumes) a multi-agent search into a run directory.

Two modes share the agents (``tfnas.search.manas_agents``):

* tabular (``benchmark="nasbench201"``): the 6 edges of the NAS-Bench-201 cell are 6 agents over
  its 5 ops; a round's loss is ``1 - test accuracy / 100`` of the sampled cell from the table
  (plus ``loss_noise``). Seconds per search: where the agents' learning and regret are measured.
  Runs through the ask/tell ``ManasSearcher`` and ``tfnas.search.runner``: searcher_state.json
  after every round, search_summary.json (``history`` per round with ``arch`` and ``metrics``, the
  best sampled, the ``recommended`` architecture with its table metrics, the agents' final
  distributions), genotype.json (the recommendation). Nothing in this mode imports TensorFlow.
* supernet (no benchmark): the sampled DARTS supernet (``tfnas.supernets.manas_supernet``) on
  ``dataset``, one agent per edge of every cell (``layers x 14``; ``share_cells``: DARTS' normal
  and reduce cells, ``2 x 14``). A round is Algorithm 1 of Carlucci et al.: the agents sample a
  path Z_t; ``batches_per_round`` weight steps on training batches through Z_t (PathSGD: untaken
  ops get no gradient, momentum or decay); the validation loss of Z_t at the updated weights on as
  many validation batches; every agent learns from that loss scaled into [0, 1]
  (``LossScale.cross_entropy``). See ``_run_supernet`` for resume and outputs.

Both write run_config.json (a resume with other settings is refused) and TensorBoard events
(tensorboard/manas: the agents' heatmaps, entropy, the sampled architecture's loss per round).
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any, Callable

import numpy as np

from tfnas.errors import ConfigError
from tfnas.configs.common import validate_graph_optimization
from tfnas.files import read_json, write_json
from tfnas.run_dir import RunDirectory
from tfnas.search.api import CategoricalSpace
from tfnas.search.manas import ManasSearcher, check_search_settings
from tfnas.search.manas_agents import Agents, LeastSquaresAgents, LossScale
from tfnas.spaces import manas as manas_space

BENCHMARKS = ("nasbench201",)
VAL_BN = ("batch", "moving")
"""How BN normalises the validation pass of a round: the batch's statistics (as DARTS' architecture
step does) or the moving averages (which mix every path the supernet has trained)."""
TABULAR_HEATMAP_EVERY = 25


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
    heatmap_every: int | None = None  # None: every 25 rounds (tabular), once per epoch (supernet)
    fresh: bool = False
    verbose: bool = False
    # --- supernet mode (no benchmark): DARTS' CIFAR-10 search network and weight recipe -------------
    dataset: str = "mnist_embedded"
    data_dir: str | None = None
    image_size: int | None = None
    batch_size: int = 64
    epochs: int = 50
    steps_per_epoch: int | None = None
    layers: int = 8
    init_channels: int = 16
    train_portion: float = 0.5
    learning_rate: float = 0.025
    min_learning_rate: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    share_cells: bool = False
    ops: tuple[str, ...] = manas_space.OPS  # every edge's candidates (a subset for ablations and small tests)
    batches_per_round: int = 1
    val_bn: str = "batch"
    loss_clip: float | None = None  # cross-entropy that counts as loss 1; None: ln(num_classes)
    checkpoint_cells: bool = True  # recompute each cell's path in the backward pass (edge by edge)
    checkpoint_every: int = 50
    graph_optimization: str = "full"  # tfnas.graph_optimization: "light" skips Grappler (tiny runs)

    def check(self) -> None:
        """Every setting that can be checked without loading anything; raises UserInputError subclasses."""
        check_search_settings(self.agent, self.eta, self.gamma, self.ridge, self.loss_noise, self.recommend)
        if self.max_rounds < 1:
            raise ConfigError(f"--max_rounds must be at least 1, got {self.max_rounds}")
        validate_graph_optimization(self.graph_optimization)
        if self.heatmap_every is not None and self.heatmap_every < 1:
            raise ConfigError(f"--heatmap_every must be at least 1, got {self.heatmap_every}")
        if self.benchmark is not None and self.benchmark not in BENCHMARKS:
            raise ConfigError(f"unknown --benchmark {self.benchmark!r}; choose one of {list(BENCHMARKS)}")
        if self.benchmark is None:
            self.check_supernet()
        else:
            self.check_tabular()

    def check_supernet(self) -> None:
        for name in ("batch_size", "epochs", "init_channels", "batches_per_round", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.layers < 3:
            raise ConfigError(f"--layers must be at least 3 (a DARTS network has two reduction cells), got {self.layers}")
        if not 0.0 < self.train_portion < 1.0:
            raise ConfigError(f"--train_portion must lie in (0, 1): MANAS needs a validation part for the agents' "
                              f"loss, got {self.train_portion}")
        if self.val_bn not in VAL_BN:
            raise ConfigError(f"unknown --val_bn {self.val_bn!r}; choose one of {list(VAL_BN)}")
        if self.loss_clip is not None and not (math.isfinite(self.loss_clip) and self.loss_clip > 0):
            raise ConfigError(f"--loss_clip must be a positive cross-entropy, got {self.loss_clip}")
        if self.loss_noise:
            raise ConfigError("--loss_noise is for the tabular mode (the supernet's loss is noisy already); drop it")
        try:
            manas_space.check_ops(self.ops)
        except ValueError as e:
            raise ConfigError(f"--candidate_ops: {e}") from None

    def check_tabular(self) -> None:
        """Supernet-only settings given with --benchmark (a DARTS-cell search asked of the NAS-Bench-201 table)."""
        given = [f"--{name}" for name, value, default in (
            ("share_cells", self.share_cells, False), ("batches_per_round", self.batches_per_round, 1),
            ("val_bn", self.val_bn, "batch"), ("loss_clip", self.loss_clip, None),
            ("candidate_ops", tuple(self.ops), manas_space.OPS)) if value != default]
        if given:
            raise ConfigError(f"{', '.join(given)} configure the supernet search of DARTS cells (MANAS genotypes); "
                              f"the --benchmark={self.benchmark} table has one 6-edge cell of its own ops. Drop them, "
                              "or drop --benchmark to search DARTS cells on --dataset")

    def run_settings(self) -> dict[str, Any]:
        """What decides the result (run_config.json): a resume must match it. The round budget is
        in it only where it sets EXP3's default eta; otherwise raising --max_rounds continues a run."""
        exp3, ls = self.agent == "exp3", self.agent == "least_squares"
        settings = {"method": "manas", "agent": self.agent, "seed": self.seed, "benchmark": self.benchmark,
                    "objective": self.objective, "loss_noise": self.loss_noise, "recommend": self.recommend,
                    "eta": self.eta if exp3 else None, "gamma": self.gamma if exp3 else None,
                    "horizon": self.max_rounds if exp3 and self.eta is None else None,
                    "ridge": self.ridge if ls else None}
        if self.benchmark is None:  # the supernet run: its budget is epochs (the LR schedule and eta depend on it)
            settings.update(objective=None, horizon=None, **{k: getattr(self, k) for k in SUPERNET_SETTINGS})
        return settings


SUPERNET_SETTINGS = ("dataset", "data_dir", "image_size", "batch_size", "epochs", "steps_per_epoch", "layers",
                     "init_channels", "train_portion", "learning_rate", "min_learning_rate", "momentum",
                     "weight_decay", "grad_clip", "share_cells", "ops", "batches_per_round", "val_bn", "loss_clip",
                     "checkpoint_cells")
"""Settings of the supernet mode that decide its result (``checkpoint_every`` and ``heatmap_every`` do not)."""


def run_manas_search(config: ManasConfig, after_round: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run or resume the search ``config`` describes; returns the final search_summary.json content.

    ``after_round(n)`` runs once round ``n`` is done (tabular: and saved; a hook for progress reports
    and tests).
    """
    config.check()
    if config.benchmark is None:
        return _run_supernet(config, after_round)
    return _run_tabular(config, after_round)


def _run_supernet(config: ManasConfig, after_round: Callable[[int], None] | None) -> dict[str, Any]:
    from tfnas.methods.manas_rounds import run_supernet_search  # TensorFlow: only the supernet mode needs it

    return run_supernet_search(config, after_round)


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
                             config.heatmap_every or TABULAR_HEATMAP_EVERY, last_round=config.max_rounds)

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
    summary["agents"] = agents_summary(searcher.agents, searcher.space)
    write_json(summary_path, summary)
    return summary


def agents_summary(agents: Agents, space: CategoricalSpace) -> dict[str, Any]:
    """The agents' final view per choice: probabilities (and MANAS-LS' fitted contributions)."""
    probabilities, contributions = agents.probabilities(), None
    if isinstance(agents, LeastSquaresAgents):
        contributions = agents.contributions()
    out: dict[str, Any] = {"kind": agents.kind, "rounds": agents.rounds, "mean_entropy": float(agents.entropy().mean()),
                           "choices": {}}
    for i, choice in enumerate(space.choices):
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


__all__ = ["BENCHMARKS", "ManasConfig", "SUPERNET_SETTINGS", "VAL_BN", "agents_summary", "run_manas_search"]
