"""What the three discrete search binaries share: flags -> evaluator, space, converters, outputs.

Not a binary itself. Tabular mode (``--benchmark=nasbench201``) searches the NAS-Bench-201
cells against the table; real mode trains PNAS child networks on ``--dataset``.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import numpy as np

from absl import app, flags, logging

from flags import common, discrete
from tfnas.errors import ConfigError, exit_on_user_error
from tfnas.logs import quiet_tensorflow_logs
from tfnas.search.api import Architecture, CategoricalSpace, Searcher

DEFAULT_MAX_EVALUATIONS = 100


class FlagError(ConfigError):
    """Discrete-search flags that do not fit together."""


@dataclasses.dataclass
class Setup:
    """Everything a binary needs besides its searcher."""

    tabular: bool
    evaluator: Any
    metric: str  # the objective's metric name
    space: CategoricalSpace | None  # fixed-choice space (None for progressive PNAS)
    arch_to_summary: Callable[[Architecture], Any]
    arch_to_genotype: Callable[[Architecture], Any]
    config: dict[str, Any]
    extra_summary: dict[str, Any]
    mode: str = "max"  # whether the objective is maximised or minimised


def _check_mode_flags(tabular: bool) -> None:
    f = flags.FLAGS
    if not tabular:
        set_tabular = [name for name in ("device", "max_latency_ms", "latency_file", "max_latency_percentile",
                                         "table_choices", "table_objective") if f[name].value is not None]
        if set_tabular:
            raise FlagError(f"--{' and --'.join(set_tabular)} only apply to tabular search; add "
                            "--benchmark=nasbench201 (real mode measures no latency)")
    if discrete.EVOLUTION_TOURNAMENT_SIZE.value > discrete.EVOLUTION_POPULATION_SIZE.value:
        raise FlagError(f"--evolution_tournament_size={discrete.EVOLUTION_TOURNAMENT_SIZE.value} exceeds "
                        f"--evolution_population_size={discrete.EVOLUTION_POPULATION_SIZE.value}")


def setup(method: str, progressive: bool = False) -> Setup:
    """Build the evaluator and converters the flags ask for."""
    tabular = discrete.BENCHMARK.value is not None
    _check_mode_flags(tabular)
    config: dict[str, Any] = {"method": method, "seed": common.SEED.value, "benchmark": discrete.BENCHMARK.value}
    if discrete.BENCHMARK.value == "table":
        return _user_table_setup(config)
    if tabular:
        from tfnas.benchmarks import nasbench201 as nb
        from tfnas.benchmarks.user_table import latency_limit

        table = nb.NasBench201Table.load(discrete.BENCHMARK_FILE.value)
        device = discrete.DEVICE.value
        if discrete.LATENCY_FILE.value:
            if device is not None:
                raise FlagError("--latency_file is your own device's latency: drop --device")
            device = table.join_latency(discrete.LATENCY_FILE.value)
        limit = discrete.MAX_LATENCY_MS.value
        if discrete.MAX_LATENCY_PERCENTILE.value is not None:
            if device is None:
                raise FlagError("--max_latency_percentile needs --device or --latency_file (whose latencies)")
            limit = latency_limit(table.values(table.latency_column(device)), limit,
                                  discrete.MAX_LATENCY_PERCENTILE.value)
        evaluator = nb.NasBench201Evaluator(table, discrete.OBJECTIVE.value, device, limit)
        config.update(objective=discrete.OBJECTIVE.value, device=discrete.DEVICE.value,
                      max_latency_ms=discrete.MAX_LATENCY_MS.value, latency_file=discrete.LATENCY_FILE.value,
                      max_latency_percentile=discrete.MAX_LATENCY_PERCENTILE.value)
        _, best_value = evaluator.best_feasible()
        extra = {"benchmark": "nasbench201", "benchmark_file": evaluator.table.path,
                 "table_best_feasible": best_value}
        return Setup(True, evaluator, evaluator.metric, evaluator.space(), nb.arch_to_string, nb.arch_to_genotype,
                     config, extra)

    from tfnas.data import load_image_data
    from tfnas.search.training_evaluator import CandidateTraining, TrainingEvaluator
    from tfnas.spaces import pnas

    n, f, cell_output = discrete.PNAS_CELLS.value, discrete.PNAS_FILTERS.value, discrete.PNAS_CELL_OUTPUT.value
    training = CandidateTraining(
        epochs=discrete.PNAS_EPOCHS_PER_CANDIDATE.value, batch_size=common.BATCH_SIZE.value,
        steps_per_epoch=common.STEPS_PER_EPOCH.value, learning_rate=discrete.CANDIDATE_LEARNING_RATE.value,
        weight_decay=discrete.CANDIDATE_WEIGHT_DECAY.value, weight_decay_type=discrete.CANDIDATE_WEIGHT_DECAY_TYPE.value,
        validation_portion=discrete.CANDIDATE_VALIDATION_PORTION.value, augment=discrete.CANDIDATE_AUGMENT.value,
        seed=common.SEED.value, verbose=common.VERBOSE.value)
    data = load_image_data(common.DATASET.value, common.DATA_DIR.value)

    def build(arch: Architecture, num_classes: int, input_shape):
        return pnas.build_network(pnas.to_genotype(arch), num_classes, input_shape, cells_per_stage=n, filters=f,
                                  cell_output=cell_output)

    evaluator = TrainingEvaluator(data, build, training)
    config.update(dataset=common.DATASET.value, blocks=discrete.PNAS_BLOCKS.value, cells=n, filters=f,
                  cell_output=cell_output, candidate=dataclasses.asdict(training))
    space = None if progressive else pnas.fixed_size_space(discrete.PNAS_BLOCKS.value)
    extra = {"dataset": common.DATASET.value, "space": "pnas"}
    return Setup(False, evaluator, evaluator.metric, space, lambda a: pnas.to_genotype(a).to_json()["blocks"],
                 pnas.to_genotype, config, extra)


def _user_table_setup(config: dict[str, Any]) -> Setup:
    """--benchmark=table: the user's own table of measured architectures."""
    from tfnas.benchmarks import user_table as ut

    if not discrete.BENCHMARK_FILE.value:
        raise FlagError("--benchmark=table needs --benchmark_file=<your table.csv or .json>")
    if discrete.DEVICE.value is not None:
        raise FlagError("--device names a NAS-Bench-201 latency column; for your table use --latency_file or a "
                        "latency_ms column")
    table = ut.UserTable.load(discrete.BENCHMARK_FILE.value, discrete.TABLE_CHOICES.value,
                              discrete.TABLE_OBJECTIVE.value, discrete.TABLE_MODE.value)
    latency = table.join_latency(discrete.LATENCY_FILE.value) if discrete.LATENCY_FILE.value else (
        "latency_ms" if "latency_ms" in table.metrics else None)
    limit = ut.latency_limit(table.metrics[latency] if latency else np.array([]), discrete.MAX_LATENCY_MS.value,
                             discrete.MAX_LATENCY_PERCENTILE.value)
    evaluator = ut.UserTableEvaluator(table, latency, limit)
    config.update(benchmark_file=os.path.abspath(table.path), choices=table.choices, objective=table.objective,
                  table_mode=table.mode, latency_file=discrete.LATENCY_FILE.value, max_latency_ms=limit)
    _, best_value = evaluator.best_feasible()
    extra = {"benchmark": "table", "benchmark_file": table.path, "table_best_feasible": best_value,
             "max_latency_ms": limit}
    return Setup(True, evaluator, table.objective, evaluator.space(), ut.arch_to_string, ut.arch_to_genotype(table),
                 config, extra, mode=table.mode)


def max_evaluations(default: int | None = DEFAULT_MAX_EVALUATIONS) -> int:
    value = discrete.MAX_EVALUATIONS.value
    return value if value is not None else (default if default is not None else 10 ** 9)


def make_main(search: Callable[[], Searcher]):
    """absl main around a binary's ``search()``: bad input ends with one ``error:`` line (exit 2)."""

    def main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {argv[1:]}")
        quiet_tensorflow_logs()
        with exit_on_user_error():
            common.require_one_device(argv[0].rsplit("/", 1)[-1].removesuffix(".py"),
                                      "it trains or looks up one candidate at a time in this process")
            search()

    return main


def run(searcher: Searcher, s: Setup, method: str, evaluations: int) -> Searcher:
    from tfnas.search.runner import run_to_output_dir

    searcher = run_to_output_dir(searcher, s.evaluator, evaluations, common.OUTPUT_DIR.value, method,
                                 s.arch_to_summary, s.arch_to_genotype, s.config,
                                 {**s.extra_summary, "config": s.config},
                                 log=logging.info if common.VERBOSE.value else None, fresh=common.FRESH.value,
                                 target=discrete.TARGET.value)
    best = searcher.best()
    if best is not None:
        print(f"{method}: {len(searcher.history)} evaluated, best {s.metric}={best['metrics'][s.metric]:.4f} "
              f"{s.arch_to_summary(best['arch'])} -> {common.OUTPUT_DIR.value}")
    return searcher
