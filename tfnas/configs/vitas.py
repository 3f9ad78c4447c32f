"""Settings of a ViTAS search, checked without TensorFlow (tfnas.methods.vitas runs them)."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfnas.configs.common import check_output_dir
from tfnas.errors import ConfigError
from tfnas.spaces import vit

WEIGHT_SHARING = ("left", "right", "bcnet")
"""How a narrower op takes its weights from the widest: the first channels, the last, or both (BCNet);
tfnas.supernets.super_transformer.WEIGHT_SHARING maps each to the slices it runs."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class VitasSearchConfig:
    """Everything a ViTAS search depends on: the flags of binaries.search_vitas, one to one."""

    output_dir: str
    min_mflops: float
    max_mflops: float
    dataset: str = "mnist_embedded"
    data_dir: str | None = None
    space_config: str = vit.DEFAULT_CONFIG
    image_size: int | None = None  # overrides of the space config
    patch_sizes: tuple[int, ...] | None = None
    num_slots: int | None = None
    weight_sharing: str = "bcnet"
    private_class_token: bool = True
    identity_samples: int = 1000
    identity_step: float = 0.01
    seed: int = 0
    epochs: int = 10
    steps_per_epoch: int | None = None
    batch_size: int = 64
    learning_rate: float = 1e-3
    min_learning_rate: float = 0.0
    warmup_epochs: int = 5
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    cutmix_alpha: float = 1.0
    train_portion: float = 0.8
    eval_examples: int = 1000
    evolution_population_size: int = 50
    evolution_generations: int = 40
    crossover_prob: float = 0.9
    mutation_prob: float | None = None
    flops_penalty: bool = False
    fresh: bool = False
    verbose: int = 2

    RESUMABLE: ClassVar[tuple[str, ...]] = ("evolution_generations",)
    """More generations continue a finished evolution; everything else changes the result."""

    def validate(self) -> None:
        """Checks that need no data and no TensorFlow work (a bad flag fails at once)."""
        check_output_dir(self.output_dir)
        if self.weight_sharing not in WEIGHT_SHARING:
            raise ConfigError(f"--weight_sharing must be one of {sorted(WEIGHT_SHARING)}, got {self.weight_sharing!r}")
        for name in ("epochs", "batch_size", "identity_samples", "eval_examples", "evolution_generations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.evolution_population_size < 2:
            raise ConfigError(f"--evolution_population_size must be at least 2, got {self.evolution_population_size}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ConfigError(f"--warmup_epochs={self.warmup_epochs} must be below --epochs={self.epochs} (the cosine "
                              "decay follows the warm-up)")
        if not 0.0 < self.train_portion < 1.0:
            raise ConfigError(f"--train_portion must be in (0, 1): candidates are scored on the rest, got "
                              f"{self.train_portion}")
        if not 0.0 <= self.label_smoothing < 1.0 or self.cutmix_alpha < 0 or self.weight_decay < 0:
            raise ConfigError("need 0 <= --label_smoothing < 1, --cutmix_alpha >= 0 and --weight_decay >= 0")

    def space(self, input_channels: int, num_classes: int) -> vit.ViTSpace:
        """The ViT space of the named config with the overrides, for data of this geometry."""
        config = vit.space_config(self.space_config, image_size=self.image_size,
                                  patch_sizes=tuple(self.patch_sizes) if self.patch_sizes else None,
                                  num_slots=self.num_slots)
        return vit.ViTSpace(config, input_channels, num_classes)
