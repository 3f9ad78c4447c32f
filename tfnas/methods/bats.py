"""BATS (Bulat, Martinez, Tzimiropoulos, ECCV 2020): binary architecture search on the shared
differentiable-search core.

The paper's three ingredients and where they live:
1. the binary-oriented search space: tfnas.spaces.bats (ops), tfnas.supernets.bats_supernet
   (search network), tfnas.spaces.bats_binary_network (child network);
2. the mechanism that controls and stabilises the searched topology: a temperature T on the
   architecture softmax, softmax(alpha / T), with a schedule over epochs
   (tfnas.training.temperature, which the shared search driver applies); its effect is visible in TensorBoard
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

import contextlib
import dataclasses
import os
from typing import Any

import numpy as np
import tensorflow as tf

from tfnas.errors import ConfigError
from tfnas.methods.differentiable import BilevelSearch, SingleLevelSearch
from tfnas.methods.differentiable_search import SearchConfig, architecture_optimizer, run_differentiable_search
from tfnas.configs.bats import (  # noqa: F401  (re-exported: the driver's settings)
    AUTO_TEACHER, BINARIZE, DEPLOY_INIT_CHANNELS, SEARCH_METHODS, TEACHER_DIR, BatsSearchConfig)
from tfnas.training.distillation import distillation_loss  # noqa: F401  (re-exported)
from tfnas.training.distribution import strategy_for, writes_run_files
from tfnas.training.schedules import EpochCosineDecay
from tfnas.training.temperature import TEMPERATURE_SCHEDULES, TemperatureSchedule, temperature_at  # noqa: F401  (re-exported)
from tfnas.supernets.bats_supernet import BatsSupernet
from tfnas.files import write_json
from tfnas.run_dir import RunDirectory
from tfnas.graph_optimization import applies_config_graph_optimization

keras = tf.keras


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
def build_supernet(config: BatsSearchConfig, num_classes: int) -> BatsSupernet:
    checkpoint = True if config.checkpoint_cells is None else config.checkpoint_cells
    return BatsSupernet(num_classes, init_channels=config.init_channels, layers=config.resolved_layers(),
                        groups=config.groups, deploy_channels=config.deploy_init_channels,
                        shuffle_groups=config.shuffle_groups, binarize=config.binarize,
                        progressive=config.binarize_warmup_epochs > 0, naive=config.naive,
                        binary_preprocess=config.binary_preprocess, binary_downsample=config.binary_downsample,
                        arch_activation=config.arch_activation, temperature=config.temperature, seed=config.seed,
                        checkpoint=checkpoint)


def build_bats_search_model(config: BatsSearchConfig, num_classes: int, steps_per_epoch: int,
                            teacher: keras.Model | None = None):
    """Supernet + BATS method model + optimizers (inside the distribution strategy's scope)."""
    supernet = build_supernet(config, num_classes)
    arch_optimizer = architecture_optimizer(config, steps_per_epoch)
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
    callbacks: list[keras.callbacks.Callback] = []  # the temperature schedule is the shared driver's
    if config.binarize_warmup_epochs > 0:
        callbacks.append(BinarizationSchedule(model.supernet, config.binarize_warmup_epochs))
    return callbacks


def _input_channels(config: SearchConfig) -> int:
    from tfnas.data import get_builder

    info = get_builder(config.dataset, config.data_dir).info
    return int(info.features[info.supervised_keys[0]].shape[-1])


def restore_search_model(config: BatsSearchConfig, num_classes: int):
    """The search model of ``config``'s run at its last checkpoint (without a teacher)."""
    search_model = build_bats_search_model(config, num_classes, 1)
    # The supernet's variables depend on the image channels only, not on the image size.
    search_model.supernet(tf.zeros([1, 16, 16, _input_channels(config)]))
    checkpoints = os.path.join(config.output_dir, "checkpoints")
    latest = tf.train.latest_checkpoint(checkpoints)
    if latest is None:
        raise ConfigError(f"no search checkpoint in {checkpoints}; re-run to search first")
    tf.train.Checkpoint(model=search_model).restore(latest).expect_partial()
    return search_model


def _load_teacher(config: BatsSearchConfig, num_classes: int) -> keras.Model:
    """The frozen teacher: the real-valued supernet of the teacher search, or a trained model directory."""
    if config.teacher != AUTO_TEACHER:
        from tfnas.training.model_io import load_trained_model

        teacher = load_trained_model(config.teacher)
        if teacher.output_shape[-1] != num_classes:
            raise ConfigError(f"--teacher={config.teacher} predicts {teacher.output_shape[-1]} classes; "
                              f"{config.dataset} has {num_classes}")
        return teacher
    return restore_search_model(config.teacher_config(), num_classes).supernet


# --- discretisation gap ------------------------------------------------------------------------
DISCRETIZATION_IMAGES = 1024
DISCRETIZATION_BATCH = 256


def batch_statistics_accuracy(supernet: BatsSupernet, dataset: tf.data.Dataset,
                              op_weights: dict[str, np.ndarray] | None = None) -> float:
    """Top-1 accuracy of ``supernet`` (with fixed ``op_weights`` if given), BN on batch statistics.

    The moving statistics a supernet collects belong to its mixed op weights and are wrong for
    the derived network, so both are measured alike: every BN normalises with the statistics of
    the evaluation batch (as NAS-Bench-201's search networks always do). The moving statistics
    are overwritten as a side effect, so call this on a restored copy.
    """
    context = supernet.computing(op_weights) if op_weights is not None else contextlib.nullcontext()
    correct = total = 0
    with context:
        predict = lambda x: tf.argmax(supernet(x, training=True), axis=-1, output_type=tf.int32)  # noqa: E731
        for x, y in dataset:
            correct += int(tf.reduce_sum(tf.cast(tf.equal(predict(x), y), tf.int32)))
            total += int(y.shape[0])
    return correct / max(total, 1)


def argmax_op_weights(op_weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every edge its strongest op, ``none`` included: the discrete network the distribution points at."""
    return {k: np.eye(w.shape[-1], dtype=np.float32)[np.argmax(w, axis=-1)] for k, w in op_weights.items()}


def discretization_gap(config: BatsSearchConfig) -> dict[str, Any]:
    """The supernet's accuracy at the end of the search vs that of the network it derives.

    All three are the restored final supernet on the same held-out images of the search split
    (the test split when --train_portion=1 leaves none), BN on batch statistics, with op weights
      supernet  softmax(alpha / T), what the search trained and scored;
      argmax    one-hot on each edge's strongest op, ``none`` included (what the distribution
                points at: the temperature's job is to make this the supernet);
      derived   one-hot on the derived genotype (tfnas.spaces.bats.derived_op_weights: DARTS'
                rule keeps two edges per node and never ``none``).
    ``gap`` = supernet - derived, split into ``mixing_gap`` (supernet - argmax) and
    ``derivation_gap`` (argmax - derived). ``temperature``: the T of ``supernet`` (the checkpoint's:
    the last epoch's under a schedule).
    """
    from tfnas.data import eval_dataset, load_image_data
    from tfnas.spaces.bats import derived_op_weights

    data = load_image_data(config.dataset, config.data_dir, config.image_size)
    _, val_idx = data.search_split(config.resolved_train_portion(), seed=config.seed)
    held_out = len(val_idx) > 0
    available = len(val_idx) if held_out else len(data.test_labels)
    n = min(available, DISCRETIZATION_IMAGES)
    if n >= DISCRETIZATION_BATCH:  # whole batches only, so every batch's BN statistics have the same size
        n -= n % DISCRETIZATION_BATCH
    dataset = eval_dataset(data, "train" if held_out else "test", val_idx if held_out else None,
                           batch_size=min(n, DISCRETIZATION_BATCH)).take(max(1, n // DISCRETIZATION_BATCH))
    supernet = restore_search_model(config, data.num_classes).supernet
    genotype = supernet.genotype()
    mixed = batch_statistics_accuracy(supernet, dataset)
    argmax = batch_statistics_accuracy(supernet, dataset, argmax_op_weights(supernet.op_weights_numpy()))
    derived = batch_statistics_accuracy(supernet, dataset, derived_op_weights(genotype))
    return {"supernet_accuracy": round(mixed, 4), "argmax_accuracy": round(argmax, 4),
            "derived_accuracy": round(derived, 4), "gap": round(mixed - derived, 4),
            "temperature": round(float(supernet.temperature.numpy()), 6),
            "mixing_gap": round(mixed - argmax, 4), "derivation_gap": round(argmax - derived, 4), "images": n,
            "split": "held-out part of the search split" if held_out else "test",
            "batch_norm": "batch statistics", "genotype": genotype.to_json()}


@applies_config_graph_optimization
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
    summary["discretization"] = discretization_gap(config)
    if writes_run_files(config.distribution):
        write_json(os.path.join(os.path.abspath(config.output_dir), "search_summary.json"), summary)
    return summary
