"""Settings of a HURRICANE / SPOS search, checked without TensorFlow (tfnas.methods.hurricane runs them)."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from tfnas.configs.common import check_output_dir
from tfnas.errors import LatencyTableError, UserInputError
from tfnas.spaces import hurricane


class HurricaneError(UserInputError):
    """A HURRICANE search request that cannot run (infeasible limit, inconsistent inputs)."""


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """Everything that determines a HURRICANE search's result (saved to output_dir/config.json)."""

    max_latency_ms: float
    stages: int = 2
    stage_split: int = 8
    epochs: int = 10  # one-stage SPOS's epochs, and the basis of the two stages' budgets
    stage1_epochs: int | None = None  # None: the budget rule (``stage_epochs``)
    stage2_epochs: int | None = None
    steps_per_epoch: int | None = None
    batch_size: int = 64
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 4e-5
    label_smoothing: float = 0.1  # SPOS' supernet loss
    bn_affine: bool = False  # SPOS' supernet BN has no scale and offset
    train_portion: float = 0.8
    recalibration_batches: int = 200  # SPOS; capped at the batches the training part holds
    eval_examples: int = 1000
    population_size: int = 50
    generations: int = 20
    num_parents: int = 10
    num_mutations: int = 25
    num_crossovers: int = 25
    mutation_prob: float = 0.1
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def stage_epochs(self, stage: str) -> int:
        """Supernet training epochs of one stage ("spos", "stage1" or "stage2").

        One-stage SPOS trains ``epochs``. Unless ``stage1_epochs`` / ``stage2_epochs`` say otherwise,
        each HURRICANE stage trains ``epochs`` x (layers it searches / all layers), rounded: a stage
        searches a smaller space, so it needs proportionally less training, and the two stages
        together take as many steps as one-stage SPOS (6 + 4 of 10 epochs at the default split).
        Their steps cost less (stage 1's early layers have one op each, stage 2 computes no weight
        gradients for its frozen layers), which is where the saving in training time comes from.
        """
        if stage == "spos":
            return self.epochs
        explicit = self.stage1_epochs if stage == "stage1" else self.stage2_epochs
        if explicit is not None:
            return explicit
        searched = hurricane.NUM_LAYERS - self.stage_split if stage == "stage1" else self.stage_split
        return max(1, int(self.epochs * searched / hurricane.NUM_LAYERS + 0.5))


def check_stages(stages: int, stage_split: int) -> None:
    if stages not in (1, 2):
        raise HurricaneError(f"--stages must be 1 (one-stage SPOS) or 2 (HURRICANE two-stage), got {stages}")
    if stages == 2 and not 0 < stage_split < hurricane.NUM_LAYERS:
        raise HurricaneError(f"--stage_split must be in 1..{hurricane.NUM_LAYERS - 1}, got {stage_split}")


# --- the whole search, from a config (what binaries.search_hurricane runs) --------------------------------------
@dataclasses.dataclass(frozen=True, kw_only=True)
class HurricaneSearchConfig(SearchSettings):
    """Everything a HURRICANE search depends on: the flags of binaries.search_hurricane, one to one.

    The stage settings (``SearchSettings``) plus where the data, the device table and the results are.
    """

    output_dir: str
    device_table: str
    dataset: str = "mnist_embedded"
    data_dir: str | None = None
    resolution: int = 32
    width_multiplier: float = 1.0
    top_k: int = 4
    latency_weight: float = 1.0
    measure_best: bool = True
    num_runs: int = 100
    warmup_runs: int = 10
    fresh: bool = False
    verbose: int = 2

    RESUMABLE: ClassVar[tuple[str, ...]] = ("measure_best", "num_runs", "warmup_runs")
    """Settings that only change the final latency measurement, not the search."""

    def settings(self) -> SearchSettings:
        fields = {f.name for f in dataclasses.fields(SearchSettings)}
        return SearchSettings(**{k: v for k, v in dataclasses.asdict(self).items() if k in fields})

    def validate(self) -> None:
        """Checks that need no data, no table and no TensorFlow work (a bad flag fails at once)."""
        if not self.device_table:
            raise LatencyTableError(
                "pass --device_table=<table.json>; build one with: python -m binaries.profile_latency --build_table "
                f"--space=hurricane --resolution={self.resolution} --width_multiplier={self.width_multiplier} "
                "--output=<table.json>")
        if self.max_latency_ms is None or self.max_latency_ms <= 0:
            raise HurricaneError("pass --max_latency_ms=<limit in ms>, a positive number")
        check_stages(self.stages, self.stage_split)
        for name in ("epochs", "batch_size", "population_size", "generations", "num_parents", "recalibration_batches",
                     "eval_examples", "top_k"):
            if getattr(self, name) < 1:
                raise HurricaneError(f"--{name} must be at least 1, got {getattr(self, name)}")
        for name in ("stage1_epochs", "stage2_epochs"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise HurricaneError(f"--{name} must be at least 1 (or unset for the budget rule), got "
                                     f"{getattr(self, name)}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise HurricaneError(f"--supernet_label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0.0 < self.train_portion < 1.0:
            raise HurricaneError(f"--train_portion must be in (0, 1): candidates are scored on the rest, "
                                 f"got {self.train_portion}")
        check_output_dir(self.output_dir)
