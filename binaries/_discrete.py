"""What the three discrete search binaries share: flags -> evaluator, space, converters, outputs.

Not a binary itself. Tabular mode (``--benchmark=nasbench201``) searches the NAS-Bench-201
cells against the table; real mode trains PNAS child networks on ``--dataset``. Either evaluator
is described by an ``EvaluatorSpec``, so ``--executor=ray`` workers build their own copy.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

from absl import app, flags, logging

from flags import common, discrete, executor
from tfnas.errors import ConfigError, exit_on_user_error
from tfnas.logs import quiet_tensorflow_logs
from tfnas.search.api import Architecture, CategoricalSpace, Executor, Searcher
from tfnas.search.evaluator_spec import EvaluatorSpec

DEFAULT_MAX_EVALUATIONS = 100


class FlagError(ConfigError):
    """Discrete-search flags that do not fit together."""


@dataclasses.dataclass
class Setup:
    """Everything a binary needs besides its searcher."""

    tabular: bool
    evaluator: Any  # built here for --executor=inprocess (and always in tabular mode); else None
    spec: EvaluatorSpec  # how a worker builds its own evaluator
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
    if executor.EXECUTOR.value != "ray":
        set_ray = [name for name in executor.RAY_ONLY if f[name].value is not None]
        if set_ray:
            raise FlagError(f"--{' and --'.join(set_ray)} only apply to --executor=ray; add it or drop them")
    else:
        from tfnas.search.ray_executor import check_ray_installed

        check_ray_installed()
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

        spec = EvaluatorSpec("tfnas.benchmarks.nasbench201:load_evaluator", dict(
            path=discrete.BENCHMARK_FILE.value, objective=discrete.OBJECTIVE.value, device=discrete.DEVICE.value,
            max_latency_ms=discrete.MAX_LATENCY_MS.value, latency_file=discrete.LATENCY_FILE.value,
            max_latency_percentile=discrete.MAX_LATENCY_PERCENTILE.value))
        evaluator = spec.build()  # the driver needs its space and best cell too
        config.update(objective=discrete.OBJECTIVE.value, device=discrete.DEVICE.value,
                      max_latency_ms=discrete.MAX_LATENCY_MS.value, latency_file=discrete.LATENCY_FILE.value,
                      max_latency_percentile=discrete.MAX_LATENCY_PERCENTILE.value)
        _, best_value = evaluator.best_feasible()
        extra = {"benchmark": "nasbench201", "benchmark_file": evaluator.table.path,
                 "table_best_feasible": best_value, "max_latency_ms": evaluator.max_latency_ms}
        return Setup(True, evaluator, spec, evaluator.metric, evaluator.space(), nb.arch_to_string,
                     nb.arch_to_genotype, config, extra)

    from tfnas.search.training_evaluator import CandidateTraining, TrainingEvaluator
    from tfnas.spaces import pnas

    n, f, cell_output = discrete.PNAS_CELLS.value, discrete.PNAS_FILTERS.value, discrete.PNAS_CELL_OUTPUT.value
    training = CandidateTraining(
        epochs=discrete.PNAS_EPOCHS_PER_CANDIDATE.value, batch_size=common.BATCH_SIZE.value,
        steps_per_epoch=common.STEPS_PER_EPOCH.value, learning_rate=discrete.CANDIDATE_LEARNING_RATE.value,
        weight_decay=discrete.CANDIDATE_WEIGHT_DECAY.value, weight_decay_type=discrete.CANDIDATE_WEIGHT_DECAY_TYPE.value,
        validation_portion=discrete.CANDIDATE_VALIDATION_PORTION.value, augment=discrete.CANDIDATE_AUGMENT.value,
        seed=common.SEED.value, verbose=common.VERBOSE.value)
    spec = EvaluatorSpec("tfnas.search.training_evaluator:pnas_training_evaluator", dict(
        dataset=common.DATASET.value, data_dir=common.DATA_DIR.value, cells_per_stage=n, filters=f,
        cell_output=cell_output, training=dataclasses.asdict(training)))
    if executor.EXECUTOR.value == "inprocess":
        evaluator = spec.build()
    else:  # workers train, not this process; it only checks (and prepares, once) the dataset they load
        from tfnas.data import get_builder
        from tfnas.data.folder import is_folder_dataset

        if not is_folder_dataset(common.DATASET.value):
            get_builder(common.DATASET.value, common.DATA_DIR.value)
        evaluator = None
    config.update(dataset=common.DATASET.value, blocks=discrete.PNAS_BLOCKS.value, cells=n, filters=f,
                  cell_output=cell_output, candidate=dataclasses.asdict(training))
    space = None if progressive else pnas.fixed_size_space(discrete.PNAS_BLOCKS.value)
    extra = {"dataset": common.DATASET.value, "space": "pnas"}
    return Setup(False, evaluator, spec, TrainingEvaluator.metric, space, lambda a: pnas.to_genotype(a).to_json()["blocks"],
                 pnas.to_genotype, config, extra)


def _user_table_setup(config: dict[str, Any]) -> Setup:
    """--benchmark=table: the user's own table of measured architectures."""
    from tfnas.benchmarks import user_table as ut

    if not discrete.BENCHMARK_FILE.value:
        raise FlagError("--benchmark=table needs --benchmark_file=<your table.csv or .json>")
    if discrete.DEVICE.value is not None:
        raise FlagError("--device names a NAS-Bench-201 latency column; for your table use --latency_file or a "
                        "latency_ms column")
    spec = EvaluatorSpec("tfnas.benchmarks.user_table:load_evaluator", dict(
        path=os.path.abspath(discrete.BENCHMARK_FILE.value), choices=discrete.TABLE_CHOICES.value,
        objective=discrete.TABLE_OBJECTIVE.value, mode=discrete.TABLE_MODE.value,
        latency_file=discrete.LATENCY_FILE.value, max_latency_ms=discrete.MAX_LATENCY_MS.value,
        max_latency_percentile=discrete.MAX_LATENCY_PERCENTILE.value))
    evaluator = spec.build()
    table = evaluator.table
    config.update(benchmark_file=os.path.abspath(table.path), choices=table.choices, objective=table.objective,
                  table_mode=table.mode, latency_file=discrete.LATENCY_FILE.value,
                  max_latency_ms=discrete.MAX_LATENCY_MS.value,
                  max_latency_percentile=discrete.MAX_LATENCY_PERCENTILE.value)
    _, best_value = evaluator.best_feasible()
    extra = {"benchmark": "table", "benchmark_file": table.path, "table_best_feasible": best_value,
             "max_latency_ms": evaluator.max_latency_ms}
    return Setup(True, evaluator, spec, table.objective, evaluator.space(), ut.arch_to_string,
                 ut.arch_to_genotype(table), config, extra, mode=table.mode)


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


def make_executor(s: Setup) -> Executor | None:
    """The --executor flags as an executor (None: in this process, run_search's default)."""
    if executor.EXECUTOR.value == "inprocess":
        return None
    from tfnas.search.ray_executor import RayExecutor, WorkerResources

    def value(flag, default):
        return flag.value if flag.value is not None else default

    resources = WorkerResources(cpus=value(executor.CPUS_PER_WORKER, 1.0), gpus=value(executor.GPUS_PER_WORKER, 0.0))
    return RayExecutor(s.spec, value(executor.NUM_WORKERS, 2), resources, address=executor.RAY_ADDRESS.value,
                       max_retries=value(executor.RAY_MAX_RETRIES, 3))


def run(searcher: Searcher, s: Setup, method: str, evaluations: int, asynchronous: bool = False) -> Searcher:
    from tfnas.search.runner import run_to_output_dir

    workers = make_executor(s)
    try:
        searcher = run_to_output_dir(searcher, s.evaluator, evaluations, common.OUTPUT_DIR.value, method,
                                     s.arch_to_summary, s.arch_to_genotype, s.config,
                                     {**s.extra_summary, "config": s.config},
                                     log=logging.info if common.VERBOSE.value else None, fresh=common.FRESH.value,
                                     target=discrete.TARGET.value, executor=workers, asynchronous=asynchronous)
    finally:
        if workers is not None:
            workers.close()
    best = searcher.best()
    if best is not None:
        print(f"{method}: {len(searcher.history)} evaluated, best {s.metric}={best['metrics'][s.metric]:.4f} "
              f"{s.arch_to_summary(best['arch'])} -> {common.OUTPUT_DIR.value}")
    return searcher
