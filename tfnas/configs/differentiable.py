"""Settings of a differentiable search (Single-DARTS, DARTS; BATS extends them), checked without TensorFlow.

``SearchConfig`` is the flags of binaries.search_single_darts and binaries.search_darts, one to
one; ``tfnas.methods.differentiable_search.run_differentiable_search`` runs it.
"""
from __future__ import annotations

import dataclasses

from tfnas.configs.common import (check_output_dir, validate_graph_optimization, validate_policy,
                                  validate_temperature_schedule)
from tfnas.configs.distribution import validate_distribution
from tfnas.errors import ConfigError

METHODS = ("single_darts", "darts")
"""Differentiable search methods (tfnas.methods.differentiable.METHODS holds their Keras models)."""

SPACES = ("darts", "nasbench201")
"""Spaces with a differentiable supernet (tfnas.supernets.differentiable.SUPERNETS)."""

MIN_DARTS_CELLS = 3
"""A DARTS-cell network (darts, bats) has two reduction cells at 1/3 and 2/3 of its depth."""

DEFAULT_LAYERS = {"darts": 8, "nasbench201": 5}
"""Search-network depth: DARTS cells in total; NAS-Bench-201 cells per stage (N)."""

DEFAULT_TRAIN_PORTION = {"darts": 0.5, "single_darts": 0.5}
"""Weight part of the training split per method: bi-level DARTS takes its architecture steps on the
held-out half (the paper's 50/50); single-level search needs no held-out part (see docs/METHODS.md)."""

ARCH_STEP_BUDGET = 30.0
"""Default ``arch_step_budget`` of DARTS and Single-DARTS (architecture learning rate x architecture
steps; measured on the embedded data, docs/METHODS.md). 0 keeps ``arch_learning_rate`` fixed."""


SAFE_ON_RESUME = ("learning_rate", "min_learning_rate", "graph_optimization", "arch_learning_rate", "grad_clip")
"""Settings a resumed search may change (after a NaN loss, say); the change is recorded in run_config.json."""


@dataclasses.dataclass
class SearchConfig:
    """Everything a differentiable search depends on (the binaries' flags, one to one)."""

    output_dir: str
    method: str = "single_darts"
    order: int = 1
    space: str = "nasbench201"
    dataset: str = "mnist_embedded"
    data_dir: str | None = None
    image_size: int | None = None
    seed: int = 0
    batch_size: int = 64
    epochs: int = 50
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    layers: int | None = None
    init_channels: int = 16
    train_portion: float | None = None  # None: the method's default (DEFAULT_TRAIN_PORTION)
    learning_rate: float = 0.025
    min_learning_rate: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_learning_rate: float = 3e-4
    arch_step_budget: float = ARCH_STEP_BUDGET
    arch_weight_decay: float = 1e-3
    arch_beta1: float = 0.5
    arch_warmup_epochs: int = 0  # tfnas.training.arch_warmup: weights only for the first N epochs
    arch_activation: str = "softmax"
    temperature: float = 1.0
    temperature_schedule: str = "constant"  # tfnas.training.temperature: T from `temperature` to `final_temperature`
    final_temperature: float | None = None
    checkpoint_cells: bool | None = None
    mixed_precision: str = "float32"  # tfnas.training.precision.POLICIES
    graph_optimization: str = "full"  # tfnas.graph_optimization: "light" skips Grappler (tiny runs)
    distribution: str = "default"  # tfnas.configs.distribution.STRATEGIES
    sync_batch_norm: bool = True  # global-batch BN statistics when there is more than one replica
    fresh: bool = False
    verbose: int = 2

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; choose one of {sorted(METHODS)}")
        if self.space not in SPACES:
            raise ConfigError(f"unknown space {self.space!r} for differentiable search; choose one of {sorted(SPACES)}")
        self.validate_optimisation()
        check_output_dir(self.output_dir)

    def validate_optimisation(self) -> None:
        """Checks shared by every differentiable search (DARTS order, validation split, sizes)."""
        if self.method == "darts" and self.order not in (1, 2):
            raise ConfigError(f"--order must be 1 or 2 for DARTS, got {self.order}")
        if self.train_portion is not None and not 0.0 < self.train_portion <= 1.0:
            raise ConfigError(f"--train_portion must be in (0, 1], got {self.train_portion}")
        if self.method == "darts" and self.resolved_train_portion() >= 1.0:
            raise ConfigError("bi-level DARTS needs a validation part: --train_portion must be below 1")
        if self.arch_learning_rate <= 0 or self.arch_step_budget < 0:
            raise ConfigError(f"--arch_learning_rate must be positive and --arch_step_budget >= 0, got "
                              f"{self.arch_learning_rate} and {self.arch_step_budget}")
        if not 0 <= self.arch_warmup_epochs < max(self.epochs, 1):
            raise ConfigError(f"--arch_warmup_epochs must be >= 0 and below --epochs={self.epochs} (the search needs "
                              f"epochs that update the architecture), got {self.arch_warmup_epochs}")
        validate_temperature_schedule(self.temperature_schedule)
        if self.temperature <= 0 or (self.final_temperature is not None and self.final_temperature <= 0):
            raise ConfigError("--temperature and --final_temperature must be positive")
        if self.arch_activation == "sigmoid" and (self.temperature != 1.0 or self.temperature_schedule != "constant"):
            raise ConfigError("the temperature acts on the softmax: with --arch_activation=sigmoid use "
                              "--temperature=1 --temperature_schedule=constant")
        if self.space != "nasbench201" and self.resolved_layers() < MIN_DARTS_CELLS:
            raise ConfigError(f"a DARTS network needs at least {MIN_DARTS_CELLS} cells (two are reductions), "
                              f"got --layers={self.resolved_layers()}")
        for name in ("batch_size", "epochs", "init_channels"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name} must be positive, got {getattr(self, name)}")
        validate_policy(self.mixed_precision)
        validate_graph_optimization(self.graph_optimization)
        validate_distribution(self.distribution)

    def resolved_layers(self) -> int:
        return self.layers or DEFAULT_LAYERS[self.space]

    def resolved_train_portion(self) -> float:
        return self.train_portion if self.train_portion is not None else DEFAULT_TRAIN_PORTION[self.method]

    def resolved_arch_learning_rate(self, steps_per_epoch: int) -> float:
        """The architecture learning rate this search runs with: ``arch_learning_rate``, raised to
        ``arch_step_budget / (architecture epochs x steps_per_epoch)`` where that is larger (architecture
        epochs: ``epochs`` less the ``arch_warmup_epochs`` that train the weights only).

        Adam moves each architecture variable by at most about the learning rate per step, so
        lr x steps bounds how far alpha can travel from its near-uniform start. DARTS' recipe
        (3e-4 over 50 epochs x 391 steps on CIFAR-10) gives 5.9; a short search keeps alpha near
        uniform unless the rate grows as the budget shrinks. ``arch_step_budget=0`` keeps the
        rate fixed (the paper's recipe).
        """
        if not self.arch_step_budget:
            return self.arch_learning_rate
        arch_epochs = max(self.epochs - self.arch_warmup_epochs, 1)
        return max(self.arch_learning_rate, self.arch_step_budget / (arch_epochs * steps_per_epoch))
