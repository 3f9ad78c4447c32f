"""Settings of a BATS search, checked without TensorFlow (tfnas.methods.bats runs them)."""
from __future__ import annotations

import dataclasses
import os

from tfnas.configs.common import check_output_dir
from tfnas.configs.differentiable import SearchConfig
from tfnas.errors import ConfigError

SEARCH_METHODS = ("darts", "single_darts")
AUTO_TEACHER = "supernet"
TEACHER_DIR = "teacher"

BINARIZE = ("none", "activations", "weights_and_activations")
"""What is binary during the search: nothing, activations only, or weights and activations."""

DEPLOY_INIT_CHANNELS = 64
"""Initial channels of the network a BATS genotype is trained and exported as (binaries.train --binary);
tfnas.spaces.bats_binary_network.EVAL_DEFAULTS["init_channels"]."""


@dataclasses.dataclass
class BatsSearchConfig(SearchConfig):
    """A BATS search: SearchConfig (data, schedule, optimisers) plus the BATS choices.

    Defaults are the paper's where it states them and documented choices where it does not
    (docs/METHODS.md, BATS); ``naive`` and the ablation switch them off one by one.
    """

    method: str = "darts"
    space: str = "bats"
    naive: bool = False
    temperature: float = 0.2
    arch_step_budget: float = 0.0  # BATS keeps --arch_learning_rate fixed unless asked
    binarize: str = "activations"
    binarize_warmup_epochs: int = 0
    kd_weight: float = 1.0
    kd_temperature: float = 1.0
    teacher: str = AUTO_TEACHER
    teacher_epochs: int | None = None
    groups: int | None = None
    deploy_init_channels: int = DEPLOY_INIT_CHANNELS
    shuffle_groups: int = 4
    binary_preprocess: bool = True
    binary_downsample: bool = False

    def __post_init__(self):
        self.space = "darts" if self.naive else "bats"

    def validate(self) -> None:
        if self.method not in SEARCH_METHODS:
            raise ConfigError(f"unknown method {self.method!r}; choose one of {SEARCH_METHODS}")
        self.validate_optimisation()
        if self.binarize not in BINARIZE:
            raise ConfigError(f"--binarize must be one of {BINARIZE}, got {self.binarize!r}")
        if self.kd_weight < 0 or self.kd_temperature <= 0:
            raise ConfigError("--kd_weight must be >= 0 and --kd_temperature > 0")
        if self.binarize_warmup_epochs < 0:
            raise ConfigError(f"--binarize_warmup_epochs must be >= 0, got {self.binarize_warmup_epochs}")
        if self.kd_weight > 0 and self.teacher != AUTO_TEACHER and not os.path.isdir(self.teacher):
            raise ConfigError(f"--teacher={self.teacher!r} is neither {AUTO_TEACHER!r} nor a trained model directory "
                              "(the 'model' directory binaries.train writes)")
        check_output_dir(self.output_dir)

    def resolved_layers(self) -> int:
        return self.layers or 8

    def teacher_config(self) -> "BatsSearchConfig":
        """The real-valued search whose supernet is the distillation teacher (``teacher=supernet``)."""
        return dataclasses.replace(self, output_dir=os.path.join(self.output_dir, TEACHER_DIR), binarize="none",
                                   binarize_warmup_epochs=0, kd_weight=0.0, epochs=self.teacher_epochs or self.epochs,
                                   teacher_epochs=None, fresh=False)
