"""Settings of training a found architecture (binaries.train), checked without TensorFlow.

``tfnas.training.trainer.train_genotype`` runs them.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from tfnas.configs.common import check_output_dir, validate_graph_optimization, validate_policy
from tfnas.configs.differentiable import MIN_DARTS_CELLS
from tfnas.configs.distribution import validate_distribution
from tfnas.errors import ConfigError
from tfnas.spaces.base import load_genotype

BINARY_RECIPE = {"optimizer": "adam", "learning_rate": 1e-3, "weight_decay": 0.0}
"""Defaults binaries.train uses with --binary for flags not given explicitly (Adam at 1e-3 as the
real-to-binary recipe; no L2 on latent binary weights [U])."""

DARTS_CELL_SPACES = ("darts", "bats")
"""Genotypes whose networks stack DARTS cells with two reductions (at least MIN_DARTS_CELLS deep)."""

SAFE_ON_RESUME = ("learning_rate", "min_learning_rate", "graph_optimization", "grad_clip")
"""Settings a resumed training may change (after a NaN loss, say); the change is recorded in run_config.json."""


@dataclasses.dataclass
class TrainConfig:
    output_dir: str
    genotype: str  # path of a genotype.json
    dataset: str = "mnist_embedded"
    data_dir: str | None = None
    image_size: int | None = None
    seed: int = 0
    batch_size: int = 96
    epochs: int = 600
    steps_per_epoch: int | None = None
    layers: int | None = None
    init_channels: int | None = None
    learning_rate: float = 0.025
    min_learning_rate: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    cutout: int = -1  # -1: the recipe's 16 px at 32x32, scaled to the image size; 0: off
    drop_path: float = 0.2
    auxiliary: bool = True
    auxiliary_weight: float = 0.4
    label_smoothing: float = 0.0
    warmup_epochs: int = 0
    stem: str = "auto"
    distribution: str = "default"
    fresh: bool = False
    verbose: int = 2
    optimizer: str = "sgd"  # sgd (DARTS recipe) | adam (binary recipe)
    binary: bool = False  # build the binary network and train it in two stages
    binary_stage1_epochs: int = -1  # epochs with real weights before binary ones; -1 = half
    network_options: dict[str, Any] = dataclasses.field(default_factory=dict)  # builder options (groups, ...)
    teacher: str | None = None  # trained model directory to distil from
    kd_weight: float = 0.0
    kd_temperature: float = 1.0
    inherit_from: str | None = None  # a search output_dir whose inherited_model/ initialises the network (ViTAS)
    mixed_precision: str = "float32"  # tfnas.training.precision.POLICIES
    graph_optimization: str = "full"  # tfnas.graph_optimization: "light" skips Grappler (tiny runs)

    def validate(self) -> None:
        validate_policy(self.mixed_precision)
        validate_graph_optimization(self.graph_optimization)
        if self.distribution == "multi_worker":  # every worker would write the same model directory
            raise ConfigError("train runs in one process: --distribution=multi_worker is for the differentiable "
                              "searches; use --distribution=mirrored (every local device) or default")
        validate_distribution(self.distribution)
        for name in ("batch_size", "epochs"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.drop_path < 1.0:
            raise ConfigError(f"--drop_path must be in [0, 1), got {self.drop_path}")
        if self.optimizer not in ("sgd", "adam"):
            raise ConfigError(f"--optimizer must be sgd or adam, got {self.optimizer!r}")
        if self.kd_weight < 0 or self.kd_temperature <= 0:
            raise ConfigError("--kd_weight must be >= 0 and --kd_temperature > 0")
        if self.kd_weight > 0 and not self.teacher:
            raise ConfigError("--kd_weight > 0 needs --teacher=<trained model directory> (binaries.train's 'model')")
        if self.binary and self.binary_stage1_epochs >= self.epochs:
            raise ConfigError(f"--binary_stage1_epochs={self.binary_stage1_epochs} leaves no fully binary epoch of "
                              f"--epochs={self.epochs}; use fewer (0 = binary weights from the start, -1 = half)")
        check_output_dir(self.output_dir)
        genotype = load_genotype(self.genotype)  # a missing or garbled file is one clear error, here
        space = genotype.get("space") if isinstance(genotype, dict) else getattr(genotype, "SPACE", None)
        if space in DARTS_CELL_SPACES and self.layers is not None and self.layers < MIN_DARTS_CELLS:
            raise ConfigError(f"a DARTS network needs at least {MIN_DARTS_CELLS} cells (two are reductions), "
                              f"got --layers={self.layers}")

    def cutout_pixels(self, image_size: int) -> int:
        return int(round(16 * image_size / 32)) if self.cutout < 0 else self.cutout
