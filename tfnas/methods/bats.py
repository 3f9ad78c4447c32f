"""BATS (Bulat, Martinez, Tzimiropoulos, ECCV 2020): binary architecture search on the shared
differentiable-search core.

The paper's three ingredients and where they live:
1. the binary-oriented search space: tfnas.spaces.bats (ops), tfnas.supernets.bats_supernet
   (search network), tfnas.spaces.bats_binary_network (child network);
2. the mechanism that controls and stabilises the searched topology: a temperature T on the
   architecture softmax, softmax(alpha / T), with a schedule over epochs
   (:func:`temperature_at`, :class:`TemperatureSchedule`); its effect is visible in TensorBoard
   through the shared ArchitectureSummary (per-edge entropy, parameter-free ops in the derived
   genotype, the temperature itself);
3. binary search strategies: what is binary during the search (``binarize``), a progressive
   binarisation schedule (:class:`BinarizationSchedule`) and knowledge distillation from a
   real-valued teacher (:class:`DistillationMixin`, loss = CE + kd_weight * tau^2 *
   KL(teacher_tau || student_tau), exactly the plain search at kd_weight = 0).

``naive=True`` is the baseline: DARTS' search over DARTS' ops with every convolution binarised.
The methods are the shared Single-DARTS / DARTS train steps (SingleLevelSearch, BilevelSearch)
with distillation mixed in; the search loop, resume, TensorBoard and outputs are
run_differentiable_search's. Choices the paper leaves open are documented in docs/METHODS.md.
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import tensorflow as tf

from tfnas.errors import ConfigError
from tfnas.methods.differentiable import BilevelSearch, SingleLevelSearch
from tfnas.methods.differentiable_search import SearchConfig, run_differentiable_search
from tfnas.training.distillation import distillation_loss  # noqa: F401  (re-exported)
from tfnas.training.distribution import strategy_for, writes_run_files
from tfnas.training.schedules import EpochCosineDecay
from tfnas.supernets.bats_supernet import BINARIZE, BatsSupernet
from tfnas.files import write_json
from tfnas.run_dir import RunDirectory

keras = tf.keras

TEMPERATURE_SCHEDULES = ("constant", "linear", "cosine", "exponential")
SEARCH_METHODS = ("darts", "single_darts")
AUTO_TEACHER = "supernet"
TEACHER_DIR = "teacher"


# --- temperature -----------------------------------------------------------------------------
def temperature_at(epoch: int, epochs: int, initial: float, final: float | None, schedule: str) -> float:
    """T at the start of ``epoch`` (0-based) of ``epochs``: from ``initial`` to ``final``.

    constant: initial throughout. linear / cosine / exponential (geometric): reach ``final`` at
    the start of the last epoch.
    """
    if schedule not in TEMPERATURE_SCHEDULES:
        raise ConfigError(f"--temperature_schedule must be one of {TEMPERATURE_SCHEDULES}, got {schedule!r}")
    if schedule == "constant" or final is None or epochs <= 1:
        return float(initial)
    t = min(max(epoch, 0), epochs - 1) / (epochs - 1)
    if schedule == "linear":
        return initial + (final - initial) * t
    if schedule == "cosine":
        return final + 0.5 * (initial - final) * (1.0 + math.cos(math.pi * t))
    return initial * (final / initial) ** t


class TemperatureSchedule(keras.callbacks.Callback):
    """Sets the supernet's temperature variable at the start of every epoch (resumes correctly)."""

    def __init__(self, supernet, epochs: int, initial: float, final: float | None, schedule: str):
        super().__init__()
        self.supernet, self.epochs = supernet, epochs
        self.initial, self.final, self.schedule = initial, final, schedule

    def on_epoch_begin(self, epoch, logs=None):
        self.supernet.temperature.assign(temperature_at(epoch, self.epochs, self.initial, self.final, self.schedule))


# --- progressive binarisation --------------------------------------------------------------------
def binarization_fraction(epoch: int, warmup_epochs: int) -> float:
    """0 (real) at epoch 0 rising linearly to 1 (binary) at ``warmup_epochs``; 1 without warm-up."""
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, epoch / float(warmup_epochs))


class BinarizationSchedule(keras.callbacks.Callback):
    """Blends the binarised quantities of a progressive supernet in over ``warmup_epochs``."""

    def __init__(self, supernet: BatsSupernet, warmup_epochs: int):
        super().__init__()
        self.supernet, self.warmup_epochs = supernet, warmup_epochs

    def on_epoch_begin(self, epoch, logs=None):
        f = binarization_fraction(epoch, self.warmup_epochs)
        net = self.supernet
        if net.binarize != "none":
            net.activation_binarization.assign(f)
        if net.binarize == "weights_and_activations":
            net.weight_binarization.assign(f)


# --- distillation ------------------------------------------------------------------------------
class DistillationMixin:
    """Adds kd_weight * distillation_loss(teacher(x), supernet(x)) to every loss the method computes.

    Weight and architecture gradients both see it (bi-level DARTS: on the training and the
    validation batch alike). The teacher runs in inference mode and is never updated.
    """

    def __init__(self, supernet, arch_optimizer, *, teacher: keras.Model | None = None, kd_weight: float = 0.0,
                 kd_temperature: float = 1.0, **kwargs):
        super().__init__(supernet, arch_optimizer, **kwargs)
        if teacher is not None:
            teacher.trainable = False
        self.teacher = teacher
        self.kd_weight = float(kd_weight)
        self.kd_temperature = float(kd_temperature)
        self.kd_tracker = keras.metrics.Mean(name="kd_loss")

    @property
    def metrics(self):
        return super().metrics + ([self.kd_tracker] if self.teacher is not None else [])

    def training_loss(self, x, y, logits):
        loss = super().training_loss(x, y, logits)
        if self.teacher is not None:
            kd = distillation_loss(tf.cast(self.teacher(x, training=False), tf.float32), logits, self.kd_temperature)
            self.kd_tracker.update_state(kd)
            loss = loss + self.kd_weight * kd
        return loss

    def _report(self, loss, y, logits):
        out = super()._report(loss, y, logits)
        if self.teacher is not None:
            out["kd_loss"] = self.kd_tracker.result()
        return out

    def test_step(self, data):
        out = super().test_step(data)
        out.pop("kd_loss", None)  # evaluation measures the task loss only
        return out


class BatsSingleLevelSearch(DistillationMixin, SingleLevelSearch):
    """Single-level (Single-DARTS) BATS step: weights and architecture from one batch."""

    method = "bats"


class BatsBilevelSearch(DistillationMixin, BilevelSearch):
    """Bi-level (DARTS) BATS step: architecture on a validation batch, then weights."""

    method = "bats"


# --- configuration and driver ----------------------------------------------------------------------
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
    temperature_schedule: str = "constant"
    final_temperature: float | None = None
    binarize: str = "activations"
    binarize_warmup_epochs: int = 0
    kd_weight: float = 1.0
    kd_temperature: float = 1.0
    teacher: str = AUTO_TEACHER
    teacher_epochs: int | None = None
    groups: int | None = None
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
        if self.temperature_schedule not in TEMPERATURE_SCHEDULES:
            raise ConfigError(f"--temperature_schedule must be one of {TEMPERATURE_SCHEDULES}, "
                              f"got {self.temperature_schedule!r}")
        if self.temperature <= 0 or (self.final_temperature is not None and self.final_temperature <= 0):
            raise ConfigError("--temperature and --final_temperature must be positive")
        if self.arch_activation == "sigmoid" and (self.temperature != 1.0 or self.temperature_schedule != "constant"):
            raise ConfigError("the temperature acts on the softmax: with --arch_activation=sigmoid use "
                              "--temperature=1 --temperature_schedule=constant")
        if self.kd_weight < 0 or self.kd_temperature <= 0:
            raise ConfigError("--kd_weight must be >= 0 and --kd_temperature > 0")
        if self.binarize_warmup_epochs < 0:
            raise ConfigError(f"--binarize_warmup_epochs must be >= 0, got {self.binarize_warmup_epochs}")
        if self.kd_weight > 0 and self.teacher != AUTO_TEACHER and not os.path.isdir(self.teacher):
            raise ConfigError(f"--teacher={self.teacher!r} is neither {AUTO_TEACHER!r} nor a trained model directory "
                              "(the 'model' directory binaries.train writes)")

    def resolved_layers(self) -> int:
        return self.layers or 8

    def teacher_config(self) -> "BatsSearchConfig":
        """The real-valued search whose supernet is the distillation teacher (``teacher=supernet``)."""
        return dataclasses.replace(self, output_dir=os.path.join(self.output_dir, TEACHER_DIR), binarize="none",
                                   binarize_warmup_epochs=0, kd_weight=0.0, epochs=self.teacher_epochs or self.epochs,
                                   teacher_epochs=None, fresh=False)


def build_supernet(config: BatsSearchConfig, num_classes: int) -> BatsSupernet:
    checkpoint = True if config.checkpoint_cells is None else config.checkpoint_cells
    return BatsSupernet(num_classes, init_channels=config.init_channels, layers=config.resolved_layers(),
                        groups=config.groups, shuffle_groups=config.shuffle_groups, binarize=config.binarize,
                        progressive=config.binarize_warmup_epochs > 0, naive=config.naive,
                        binary_preprocess=config.binary_preprocess, binary_downsample=config.binary_downsample,
                        arch_activation=config.arch_activation, temperature=config.temperature, seed=config.seed,
                        checkpoint=checkpoint)


def build_bats_search_model(config: BatsSearchConfig, num_classes: int, steps_per_epoch: int,
                            teacher: keras.Model | None = None):
    """Supernet + BATS method model + optimizers (inside the distribution strategy's scope)."""
    supernet = build_supernet(config, num_classes)
    arch_optimizer = keras.optimizers.Adam(config.arch_learning_rate, beta_1=config.arch_beta1, beta_2=0.999,
                                           epsilon=1e-8)
    common = dict(weight_decay=config.weight_decay, arch_weight_decay=config.arch_weight_decay,
                  grad_clip=config.grad_clip or None, teacher=teacher, kd_weight=config.kd_weight,
                  kd_temperature=config.kd_temperature)
    if config.method == "darts":
        model = BatsBilevelSearch(supernet, arch_optimizer, order=config.order, **common)
    else:
        model = BatsSingleLevelSearch(supernet, arch_optimizer, **common)
    schedule = EpochCosineDecay(config.learning_rate, config.min_learning_rate, config.epochs, steps_per_epoch)
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=config.momentum))
    return model


def schedule_callbacks(config: BatsSearchConfig, model) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [
        TemperatureSchedule(model.supernet, config.epochs, config.temperature, config.final_temperature,
                            config.temperature_schedule)]
    if config.binarize_warmup_epochs > 0:
        callbacks.append(BinarizationSchedule(model.supernet, config.binarize_warmup_epochs))
    return callbacks


def _input_channels(config: SearchConfig) -> int:
    from tfnas.data import get_builder

    info = get_builder(config.dataset, config.data_dir).info
    return int(info.features[info.supervised_keys[0]].shape[-1])


def _load_teacher(config: BatsSearchConfig, num_classes: int) -> keras.Model:
    """The frozen teacher: the real-valued supernet of the teacher search, or a trained model directory."""
    if config.teacher != AUTO_TEACHER:
        from tfnas.training.model_io import load_trained_model

        teacher = load_trained_model(config.teacher)
        if teacher.output_shape[-1] != num_classes:
            raise ConfigError(f"--teacher={config.teacher} predicts {teacher.output_shape[-1]} classes; "
                              f"{config.dataset} has {num_classes}")
        return teacher
    teacher_config = config.teacher_config()
    search_model = build_bats_search_model(teacher_config, num_classes, 1)
    # The supernet's variables depend on the image channels only, not on the image size.
    search_model.supernet(tf.zeros([1, 16, 16, _input_channels(config)]))
    checkpoints = os.path.join(teacher_config.output_dir, "checkpoints")
    latest = tf.train.latest_checkpoint(checkpoints)
    if latest is None:
        raise ConfigError(f"no teacher checkpoint in {checkpoints}; re-run to train the teacher first")
    tf.train.Checkpoint(model=search_model).restore(latest).expect_partial()
    return search_model.supernet


def run_bats_search(config: BatsSearchConfig) -> dict[str, Any]:
    """Run (or resume) a BATS search; with distillation and ``teacher=supernet`` the real-valued
    teacher search runs first in <output_dir>/teacher (resumable too).

    Writes genotype.json, search_summary.json (with the teacher's time and the total search
    time), history.json, checkpoints/ and tensorboard/ like every search binary.
    """
    config.__post_init__()
    config.validate()
    strategy_for(config.distribution)  # before the teacher's first TF op (multi_worker: collective ops)
    if config.fresh:  # move the old run (teacher included) aside once, then run fresh inside
        if writes_run_files(config.distribution):  # a multi-worker run's chief only
            RunDirectory(config.output_dir, fresh=True)
        config = dataclasses.replace(config, fresh=False)
    teacher_summary = None
    if config.kd_weight > 0 and config.teacher == AUTO_TEACHER:
        teacher_summary = run_bats_search(config.teacher_config())

    def builder(cfg, num_classes, steps):
        teacher = _load_teacher(cfg, num_classes) if cfg.kd_weight > 0 else None
        return build_bats_search_model(cfg, num_classes, steps, teacher)

    summary = run_differentiable_search(config, model_builder=builder,
                                        extra_callbacks=lambda model: schedule_callbacks(config, model))
    summary["search_method"] = summary["method"]
    summary["method"] = "bats_naive" if config.naive else "bats"
    teacher_time = teacher_summary["total_wall_time_s"] if teacher_summary else 0.0
    summary["teacher"] = ({"kind": AUTO_TEACHER, "output_dir": config.teacher_config().output_dir,
                           "wall_time_s": teacher_time} if teacher_summary else
                          {"kind": "model_dir", "path": config.teacher} if config.kd_weight > 0 else None)
    summary["total_wall_time_s"] = round(summary["wall_time_s"] + teacher_time, 2)
    summary["final_temperature_used"] = float(temperature_at(config.epochs - 1, config.epochs, config.temperature,
                                                             config.final_temperature, config.temperature_schedule))
    if writes_run_files(config.distribution):
        write_json(os.path.join(os.path.abspath(config.output_dir), "search_summary.json"), summary)
    return summary
