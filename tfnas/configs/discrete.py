"""Settings of a discrete search (random search, regularized evolution, PNAS), checked without TensorFlow.

``DiscreteSearchConfig`` is the flags of binaries.search_random, search_evolution and search_pnas,
one to one (plus ``method``); ``tfnas.methods.discrete_search.run_discrete_search`` runs it. Two
modes: ``benchmark`` set (``nasbench201``, or ``table``: the user's own table of measured
architectures) answers every architecture from a table (tabular mode, seconds per search, no
TensorFlow); unset, every candidate is a PNAS child network trained on ``dataset`` (real mode).
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfnas.configs.common import check_output_dir, check_positive
from tfnas.graph_optimization import GRAPH_OPTIMIZATIONS
from tfnas.errors import ConfigError

METHODS = ("random", "evolution", "pnas")
"""Discrete searches: their binaries are binaries.search_<method>."""

RUN_NAMES = {"random": "random", "evolution": "regularized_evolution", "pnas": "pnas"}
"""The ``method`` a run records in run_config.json (what a resumed run is checked against)."""

BENCHMARKS = ("nasbench201", "table")
DEFAULT_MAX_EVALUATIONS = 100
"""Architectures evaluated unless ``max_evaluations`` says otherwise (progressive PNAS: its whole search)."""

REAL_MODE_SURROGATE, TABULAR_SURROGATE = "both", "mlp"
REAL_MODE_TARGET_TRANSFORM, TABULAR_TARGET_TRANSFORM = "minmax", "rank"

TABULAR_ONLY = ("device", "max_latency_ms", "latency_file", "max_latency_percentile", "table_choices",
                "table_objective")
"""Settings that mean something only with a benchmark table (real mode measures no latency)."""

RAY_ONLY = ("num_workers", "ray_address", "cpus_per_worker", "gpus_per_worker", "ray_max_retries")
"""Settings that mean something only with ``executor="ray"``."""

_CHOICES = {"benchmark": (None, *BENCHMARKS), "table_mode": (None, "max", "min"),
            "pnas_surrogate": (None, "lstm", "mlp", "both"), "pnas_surrogate_refit": ("warm", "cold"),
            "pnas_target_transform": (None, "rank", "minmax"), "pnas_cell_output": ("all_blocks", "unused_blocks"),
            "candidate_weight_decay_type": ("l2", "decoupled"), "executor": ("inprocess", "ray"),
            "graph_optimization": GRAPH_OPTIMIZATIONS}


class FlagError(ConfigError):
    """Discrete-search flags that do not fit together."""


def surrogate_kinds(surrogate: str | None, tabular: bool) -> tuple[str, ...]:
    """Predictor kinds of PNAS: the paper's LSTM + MLP ensembles in real mode, the measured MLP
    ensemble in tabular mode, unless ``surrogate`` (lstm, mlp, both) says otherwise."""
    value = surrogate or (TABULAR_SURROGATE if tabular else REAL_MODE_SURROGATE)
    return ("lstm", "mlp") if value == "both" else (value,)


def target_transform(transform: str | None, tabular: bool) -> str:
    """What PNAS' predictors regress: the paper's regression (minmax) in real mode, rank in tabular mode."""
    return transform or (TABULAR_TARGET_TRANSFORM if tabular else REAL_MODE_TARGET_TRANSFORM)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiscreteSearchConfig:
    """Everything a discrete search depends on: the flags of its binary, one to one (defaults: the flags')."""

    method: str  # METHODS
    output_dir: str | None = None
    # --- what is searched, and how it is judged
    benchmark: str | None = None  # None: real mode (PNAS child networks trained on ``dataset``)
    benchmark_file: str | None = None
    table_choices: tuple[str, ...] | None = None
    table_objective: str | None = None
    table_mode: str | None = None
    latency_file: str | None = None
    max_latency_percentile: float | None = None
    objective: str = "cifar10"
    max_evaluations: int | None = None
    target: float | None = None
    device: str | None = None
    max_latency_ms: float | None = None
    # --- regularized evolution
    evolution_population_size: int = 10
    evolution_tournament_size: int = 5
    evolution_deduplicate: bool = False
    evolution_asynchronous: bool = False
    # --- PNAS: progressive search (real mode) and the tabular SMBO core
    pnas_blocks: int = 5
    pnas_beam_size: int = 256
    pnas_initial_cells: int | None = None
    smbo_batch_size: int = 10
    smbo_initial_size: int = 20
    pnas_surrogate: str | None = None
    pnas_ensemble_size: int = 5
    pnas_surrogate_units: int = 100
    pnas_surrogate_epochs: int = 100
    pnas_surrogate_refit: str = "warm"
    pnas_surrogate_refit_epochs: int = 300
    pnas_surrogate_refit_new_fraction: float = 0.5
    pnas_surrogate_restart_growth: float = 1.25
    pnas_surrogate_lr: float = 0.003
    pnas_target_transform: str | None = None
    pnas_cell_output: str = "all_blocks"
    # --- candidate training (real mode)
    pnas_epochs_per_candidate: int = 20
    pnas_cells: int = 2
    pnas_filters: int = 24
    candidate_learning_rate: float = 0.025
    candidate_weight_decay: float = 5e-4
    candidate_weight_decay_type: str = "l2"
    candidate_validation_portion: float = 0.1
    candidate_augment: bool = True
    graph_optimization: str = "full"  # tfnas.graph_optimization: "light" skips Grappler while candidates train
    dataset: str = "mnist_embedded"
    data_dir: str | None = None
    batch_size: int = 64
    steps_per_epoch: int | None = None
    image_size: int | None = None  # real mode: candidates train on images resized to this (tabular: unused)
    # --- the run
    seed: int = 0
    verbose: int = 2
    fresh: bool = False
    # --- where candidates are evaluated (unset Ray settings: RayExecutor's defaults)
    executor: str = "inprocess"
    num_workers: int | None = None
    ray_address: str | None = None
    cpus_per_worker: float | None = None
    gpus_per_worker: float | None = None
    ray_max_retries: int | None = None

    RAY_DEFAULTS: ClassVar[dict[str, float]] = {"num_workers": 2, "cpus_per_worker": 1.0, "gpus_per_worker": 0.0,
                                                "ray_max_retries": 3}

    def __post_init__(self):
        if self.table_choices is not None and not isinstance(self.table_choices, tuple):  # a list from flags or Python
            object.__setattr__(self, "table_choices", tuple(self.table_choices))

    @property
    def tabular(self) -> bool:
        return self.benchmark is not None

    @property
    def run_name(self) -> str:
        """The method's name in run_config.json; the summary's (and the printed line's) is ``summary_name``."""
        return RUN_NAMES[self.method]

    @property
    def summary_name(self) -> str:
        return "pnas_smbo" if self.method == "pnas" and self.tabular else self.run_name

    def resolved_max_evaluations(self) -> int:
        """The evaluation budget: ``max_evaluations``, else 100, else (progressive PNAS) its whole search."""
        if self.max_evaluations is not None:
            return self.max_evaluations
        return 10 ** 9 if self.method == "pnas" and not self.tabular else DEFAULT_MAX_EVALUATIONS

    def ray_setting(self, name: str) -> float:
        value = getattr(self, name)
        return self.RAY_DEFAULTS[name] if value is None else value

    def surrogate_kinds(self) -> tuple[str, ...]:
        return surrogate_kinds(self.pnas_surrogate, self.tabular)

    def target_transform(self) -> str:
        return target_transform(self.pnas_target_transform, self.tabular)

    def validate(self) -> None:
        """Checks that need no table, no data and no TensorFlow (a bad setting fails at once)."""
        if self.method not in METHODS:
            raise ConfigError(f"unknown discrete search method {self.method!r}; choose one of {', '.join(METHODS)}")
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ConfigError(f"--{name} must be one of {', '.join(c for c in choices if c)}, got "
                                  f"{getattr(self, name)!r}")
        check_positive(self, ("max_evaluations", "evolution_population_size", "evolution_tournament_size",
                              "pnas_blocks", "pnas_beam_size", "pnas_initial_cells", "smbo_batch_size",
                              "smbo_initial_size", "pnas_ensemble_size", "pnas_surrogate_units",
                              "pnas_surrogate_epochs", "pnas_surrogate_refit_epochs", "pnas_epochs_per_candidate",
                              "pnas_cells", "batch_size", "steps_per_epoch", "num_workers", "image_size"))
        if self.pnas_filters < 2:
            raise ConfigError(f"--pnas_filters must be at least 2, got {self.pnas_filters}")
        if not 0.0 <= self.pnas_surrogate_refit_new_fraction <= 0.99:
            raise ConfigError(f"--pnas_surrogate_refit_new_fraction must be in [0, 0.99], got "
                              f"{self.pnas_surrogate_refit_new_fraction}")
        for name in ("candidate_weight_decay", "pnas_surrogate_restart_growth", "cpus_per_worker", "gpus_per_worker",
                     "ray_max_retries"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ConfigError(f"--{name} must be >= 0, got {getattr(self, name)}")
        growth = self.pnas_surrogate_restart_growth
        if self.method == "pnas" and 0 < growth <= 1:
            raise FlagError(f"--pnas_surrogate_restart_growth={growth} must be > 1 (a growth factor) or 0 "
                            "(never restart warm refits from scratch)")
        self.validate_modes()
        check_output_dir(self.output_dir)

    def validate_modes(self) -> None:
        """Settings of one mode (tabular / real, Ray / in process) given to the other, and the evolution's sizes."""
        if not self.tabular:
            set_tabular = [name for name in TABULAR_ONLY if getattr(self, name) is not None]
            if set_tabular:
                raise FlagError(f"--{' and --'.join(set_tabular)} only apply to tabular search; add "
                                "--benchmark=nasbench201 (real mode measures no latency)")
        if self.executor != "ray":
            set_ray = [name for name in RAY_ONLY if getattr(self, name) is not None]
            if set_ray:
                raise FlagError(f"--{' and --'.join(set_ray)} only apply to --executor=ray; add it or drop them")
        if self.evolution_tournament_size > self.evolution_population_size:
            raise FlagError(f"--evolution_tournament_size={self.evolution_tournament_size} exceeds "
                            f"--evolution_population_size={self.evolution_population_size}")
        if self.benchmark == "table":
            if not self.benchmark_file:
                raise FlagError("--benchmark=table needs --benchmark_file=<your table.csv or .json>")
            if self.device is not None:
                raise FlagError("--device names a NAS-Bench-201 latency column; for your table use --latency_file or "
                                "a latency_ms column")
