"""The discrete searches' driver: random search, regularized evolution and PNAS from a config.

``run_discrete_search(config)`` is what binaries.search_random / search_evolution / search_pnas
and ``tfnas.search_architecture("random" | "evolution" | "pnas", ...)`` run. Tabular mode
(``benchmark="nasbench201"`` or ``"table"``) answers every architecture from the table and never
imports TensorFlow; real mode trains PNAS child networks on ``dataset``. Either evaluator is
described by an ``EvaluatorSpec``, so ``executor="ray"`` workers build their own copy. The run
directory (``tfnas.search.runner``) makes a re-run with the same settings resume and refuses other
settings unless ``fresh``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable

from absl import logging

from tfnas.configs.discrete import DiscreteSearchConfig, FlagError
from tfnas.search.api import Architecture, CategoricalSpace, Executor, Searcher
from tfnas.search.evaluator_spec import EvaluatorSpec

__all__ = ["DiscreteSearchConfig", "FlagError", "Setup", "make_executor", "make_searcher", "run_discrete_search",
           "setup"]


@dataclasses.dataclass
class Setup:
    """Everything a search needs besides its searcher."""

    tabular: bool
    evaluator: Any  # built here for executor="inprocess" (and always in tabular mode); else None
    spec: EvaluatorSpec  # how a worker builds its own evaluator
    metric: str  # the objective's metric name
    space: CategoricalSpace | None  # fixed-choice space (None for progressive PNAS)
    arch_to_summary: Callable[[Architecture], Any]
    arch_to_genotype: Callable[[Architecture], Any]
    config: dict[str, Any]  # what run_config.json records (a resumed run must match it)
    extra_summary: dict[str, Any]
    mode: str = "max"  # whether the objective is maximised or minimised


def check_executor(config: DiscreteSearchConfig) -> None:
    """Ray's own checks (installed, resources), before a table is loaded or data prepared."""
    if config.executor != "ray":
        return
    from tfnas.search.ray_executor import WorkerResources, check_ray_installed

    check_ray_installed()
    WorkerResources(cpus=config.ray_setting("cpus_per_worker"), gpus=config.ray_setting("gpus_per_worker"))


def setup(config: DiscreteSearchConfig) -> Setup:
    """Build the evaluator and converters ``config`` asks for."""
    config.validate_modes()
    check_executor(config)
    recorded: dict[str, Any] = {"method": config.run_name, "seed": config.seed, "benchmark": config.benchmark}
    if config.benchmark == "table":
        return _user_table_setup(config, recorded)
    if config.tabular:
        return _nasbench201_setup(config, recorded)
    return _real_setup(config, recorded)


def _latency_settings(config: DiscreteSearchConfig) -> dict[str, Any]:
    return dict(latency_file=config.latency_file, max_latency_ms=config.max_latency_ms,
                max_latency_percentile=config.max_latency_percentile)


def _table_summary(benchmark: str, evaluator) -> dict[str, Any]:
    _, best_value = evaluator.best_feasible()
    return {"benchmark": benchmark, "benchmark_file": evaluator.table.path, "table_best_feasible": best_value,
            "max_latency_ms": evaluator.max_latency_ms}


def _nasbench201_setup(config: DiscreteSearchConfig, recorded: dict[str, Any]) -> Setup:
    """benchmark="nasbench201": the NAS-Bench-201 table ($TFNAS_BENCHDATA, else the shared benchdata folder)."""
    from tfnas.benchmarks import nasbench201 as nb

    spec = EvaluatorSpec("tfnas.benchmarks.nasbench201:load_evaluator", dict(
        path=config.benchmark_file, objective=config.objective, device=config.device, **_latency_settings(config)))
    evaluator = spec.build()  # the driver needs its space and best cell too
    recorded.update(objective=config.objective, device=config.device, max_latency_ms=config.max_latency_ms,
                    latency_file=config.latency_file, max_latency_percentile=config.max_latency_percentile)
    return Setup(True, evaluator, spec, evaluator.metric, evaluator.space(), nb.arch_to_string, nb.arch_to_genotype,
                 recorded, _table_summary("nasbench201", evaluator))


def _user_table_setup(config: DiscreteSearchConfig, recorded: dict[str, Any]) -> Setup:
    """benchmark="table": the user's own table of measured architectures."""
    from tfnas.benchmarks import user_table as ut

    spec = EvaluatorSpec("tfnas.benchmarks.user_table:load_evaluator", dict(
        path=os.path.abspath(config.benchmark_file),
        choices=None if config.table_choices is None else list(config.table_choices),
        objective=config.table_objective, mode=config.table_mode, **_latency_settings(config)))
    evaluator = spec.build()
    table = evaluator.table
    recorded.update(benchmark_file=os.path.abspath(table.path), choices=table.choices, objective=table.objective,
                    table_mode=table.mode, **_latency_settings(config))
    return Setup(True, evaluator, spec, table.objective, evaluator.space(), ut.arch_to_string,
                 ut.arch_to_genotype(table), recorded, _table_summary("table", evaluator), mode=table.mode)


def _real_setup(config: DiscreteSearchConfig, recorded: dict[str, Any]) -> Setup:
    """Real mode: every candidate a PNAS child network trained on ``config.dataset``."""
    from tfnas.search.training_evaluator import CandidateTraining, TrainingEvaluator
    from tfnas.spaces import pnas

    n, f, cell_output = config.pnas_cells, config.pnas_filters, config.pnas_cell_output
    training = CandidateTraining(
        epochs=config.pnas_epochs_per_candidate, batch_size=config.batch_size, steps_per_epoch=config.steps_per_epoch,
        learning_rate=config.candidate_learning_rate, weight_decay=config.candidate_weight_decay,
        weight_decay_type=config.candidate_weight_decay_type, validation_portion=config.candidate_validation_portion,
        augment=config.candidate_augment, seed=config.seed, verbose=config.verbose,
        graph_optimization=config.graph_optimization)
    spec = EvaluatorSpec("tfnas.search.training_evaluator:pnas_training_evaluator", dict(
        dataset=config.dataset, data_dir=config.data_dir, cells_per_stage=n, filters=f, cell_output=cell_output,
        training=dataclasses.asdict(training), image_size=config.image_size))
    if config.executor == "inprocess":
        evaluator = spec.build()
    else:  # workers train, not this process; it only checks (and prepares, once) the dataset they load
        from tfnas.data import get_builder
        from tfnas.data.folder import is_folder_dataset
        from tfnas.data.user_data import is_user_dataset

        if is_user_dataset(config.dataset):
            raise FlagError("Ray workers cannot load a tf.data.Dataset held in this process (train_data=): pass "
                            "dataset=<tfds name or folder:path> with executor='ray', or use executor='inprocess'")
        if not is_folder_dataset(config.dataset):
            get_builder(config.dataset, config.data_dir)
        evaluator = None
    recorded.update(dataset=config.dataset, blocks=config.pnas_blocks, cells=n, filters=f, cell_output=cell_output,
                    candidate=dataclasses.asdict(training))
    if config.image_size is not None:  # recorded only when given: runs from before it was honoured still resume
        recorded["image_size"] = config.image_size
    progressive = config.method == "pnas"
    space = None if progressive else pnas.fixed_size_space(config.pnas_blocks)
    return Setup(False, evaluator, spec, TrainingEvaluator.metric, space,
                 lambda a: pnas.to_genotype(a).to_json()["blocks"], pnas.to_genotype, recorded,
                 {"dataset": config.dataset, "space": "pnas"})


def _surrogate_factory(config: DiscreteSearchConfig, recorded: dict[str, Any]):
    """PNAS' predictor ensembles from the config; their settings join what the run records."""
    from tfnas.search.surrogates import Surrogate

    kinds = config.surrogate_kinds()
    settings = dict(num_members=config.pnas_ensemble_size, embed_dim=config.pnas_surrogate_units,
                    units=config.pnas_surrogate_units, epochs=config.pnas_surrogate_epochs,
                    learning_rate=config.pnas_surrogate_lr, target_transform=config.target_transform(),
                    refit=config.pnas_surrogate_refit, refit_epochs=config.pnas_surrogate_refit_epochs,
                    restart_growth=config.pnas_surrogate_restart_growth or None,
                    refit_new_fraction=config.pnas_surrogate_refit_new_fraction)
    recorded.update({"surrogate": list(kinds), **{f"surrogate_{k}": v for k, v in settings.items()}})
    return lambda encoder: Surrogate(encoder, kinds, **{k: settings for k in kinds})


def make_searcher(config: DiscreteSearchConfig, s: Setup) -> Searcher:
    """The config's searcher over the setup's space; its settings join ``s.config`` (a resume keeps them)."""
    if config.method == "random":
        from tfnas.search.random import RandomSearch

        return RandomSearch(s.space, s.metric, seed=config.seed, mode=s.mode)
    if config.method == "evolution":
        from tfnas.search.evolution import RegularizedEvolution

        s.config.update(population_size=config.evolution_population_size,
                        tournament_size=config.evolution_tournament_size, deduplicate=config.evolution_deduplicate,
                        asynchronous=config.evolution_asynchronous)  # changes the result: a resume keeps it
        return RegularizedEvolution(s.space, s.metric, seed=config.seed, mode=s.mode,
                                    population_size=config.evolution_population_size,
                                    tournament_size=config.evolution_tournament_size,
                                    deduplicate=config.evolution_deduplicate)
    from tfnas.search.pnas import ProgressiveSearcher, SMBOSearcher

    factory = _surrogate_factory(config, s.config)
    if config.tabular:
        s.config.update(smbo_batch_size=config.smbo_batch_size, smbo_initial_size=config.smbo_initial_size)
        return SMBOSearcher(s.space, s.metric, seed=config.seed, mode=s.mode, batch_size=config.smbo_batch_size,
                            initial_size=config.smbo_initial_size, surrogate_factory=factory)
    s.config.update(beam_size=config.pnas_beam_size, initial_cells=config.pnas_initial_cells)
    return ProgressiveSearcher(s.metric, seed=config.seed, max_blocks=config.pnas_blocks,
                               beam_size=config.pnas_beam_size, surrogate_factory=factory,
                               initial_cells=config.pnas_initial_cells)


def make_executor(config: DiscreteSearchConfig, spec: EvaluatorSpec) -> Executor | None:
    """The executor settings as an executor (None: in this process, run_search's default)."""
    if config.executor == "inprocess":
        return None
    from tfnas.search.ray_executor import RayExecutor, WorkerResources

    resources = WorkerResources(cpus=config.ray_setting("cpus_per_worker"), gpus=config.ray_setting("gpus_per_worker"))
    return RayExecutor(spec, int(config.ray_setting("num_workers")), resources, address=config.ray_address,
                       max_retries=int(config.ray_setting("ray_max_retries")))


def run_discrete_search(config: DiscreteSearchConfig) -> dict[str, Any]:
    """Run (or resume) the search ``config`` describes into ``config.output_dir``; returns search_summary.json.

    Writes genotype.json, search_summary.json, searcher_state.json and TensorBoard scalars and
    HParams trials (``tfnas.search.runner``).
    """
    from tfnas.search.runner import SUMMARY_FILE, run_to_output_dir

    config.validate()
    s = setup(config)
    searcher = make_searcher(config, s)
    workers = make_executor(config, s.spec)
    try:
        run_to_output_dir(searcher, s.evaluator, config.resolved_max_evaluations(), config.output_dir,
                          config.summary_name, s.arch_to_summary, s.arch_to_genotype, s.config,
                          {**s.extra_summary, "config": s.config}, log=logging.info if config.verbose else None,
                          fresh=config.fresh, target=config.target, executor=workers,
                          asynchronous=config.method == "evolution" and config.evolution_asynchronous)
    finally:
        if workers is not None:
            workers.close()
    with open(os.path.join(config.output_dir, SUMMARY_FILE)) as f:
        return json.load(f)
