"""Running a differentiable search end to end: data, supernet, method, resume, outputs.

``run_differentiable_search(config)`` is what ``binaries.search_single_darts`` and
``binaries.search_darts`` call. It writes to ``config.output_dir``:
  genotype.json         the derived architecture (JSON naming its space and version)
  search_summary.json   method, space, seed, wall time, per-epoch metrics and genotypes, final
                        architecture weights, configuration
  history.json, checkpoints/, tensorboard/ (see tfnas.run_dir)
and resumes from the last completed epoch when re-run with the same output_dir.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from tfnas.data import Augment, eval_dataset, load_image_data, steps_for, train_stream, zip_streams
from tfnas.errors import ConfigError
from tfnas.methods.differentiable import METHODS, ArchitectureSearchModel, BilevelSearch, SingleLevelSearch
from tfnas.training.distribution import strategy_for
from tfnas.training.schedules import EpochCosineDecay
from tfnas.spaces import darts as darts_space
from tfnas.spaces import nasbench201 as nb201_space
from tfnas.spaces.base import save_genotype
from tfnas.supernets.differentiable import SUPERNETS, build_supernet
from tfnas.training.arch_summaries import ArchitectureSummary, entropy
from tfnas.training.checkpointing import EpochCheckpoint, ResumableState
from tfnas.training.precision import precision_policy, validate_policy
from tfnas.files import write_json
from tfnas.run_dir import RunDirectory
from tfnas.training.temperature import TEMPERATURE_SCHEDULES, TemperatureSchedule

keras = tf.keras

DEFAULT_LAYERS = {"darts": 8, "nasbench201": 5}
"""Search-network depth: DARTS cells in total; NAS-Bench-201 cells per stage (N)."""

DEFAULT_TRAIN_PORTION = {"darts": 0.5, "single_darts": 0.5}
"""Weight part of the training split per method: bi-level DARTS takes its architecture steps on the
held-out half (the paper's 50/50); single-level search needs no held-out part (see docs/METHODS.md)."""

ARCH_STEP_BUDGET = 30.0
"""Default ``arch_step_budget`` of DARTS and Single-DARTS (architecture learning rate x architecture
steps; measured on the embedded data, docs/METHODS.md). 0 keeps ``arch_learning_rate`` fixed."""


SAFE_ON_RESUME = ("learning_rate", "min_learning_rate", "arch_learning_rate", "grad_clip")
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
    arch_activation: str = "softmax"
    temperature: float = 1.0
    temperature_schedule: str = "constant"  # tfnas.training.temperature: T from `temperature` to `final_temperature`
    final_temperature: float | None = None
    checkpoint_cells: bool | None = None
    mixed_precision: str = "float32"  # tfnas.training.precision.POLICIES
    distribution: str = "default"
    fresh: bool = False
    verbose: int = 2

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; choose one of {sorted(METHODS)}")
        if self.space not in SUPERNETS:
            raise ConfigError(f"unknown space {self.space!r} for differentiable search; choose one of {sorted(SUPERNETS)}")
        self.validate_optimisation()

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
        if self.method == "darts" and self.order == 2 and self.distribution != "default":
            raise ConfigError("second-order DARTS runs on one device: use --distribution=default or --order=1")
        if self.temperature_schedule not in TEMPERATURE_SCHEDULES:
            raise ConfigError(f"--temperature_schedule must be one of {TEMPERATURE_SCHEDULES}, "
                              f"got {self.temperature_schedule!r}")
        if self.temperature <= 0 or (self.final_temperature is not None and self.final_temperature <= 0):
            raise ConfigError("--temperature and --final_temperature must be positive")
        if self.arch_activation == "sigmoid" and (self.temperature != 1.0 or self.temperature_schedule != "constant"):
            raise ConfigError("the temperature acts on the softmax: with --arch_activation=sigmoid use "
                              "--temperature=1 --temperature_schedule=constant")
        for name in ("batch_size", "epochs", "init_channels"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name} must be positive, got {getattr(self, name)}")
        validate_policy(self.mixed_precision)

    def resolved_layers(self) -> int:
        return self.layers or DEFAULT_LAYERS[self.space]

    def resolved_train_portion(self) -> float:
        return self.train_portion if self.train_portion is not None else DEFAULT_TRAIN_PORTION[self.method]

    def resolved_arch_learning_rate(self, steps_per_epoch: int) -> float:
        """The architecture learning rate this search runs with: ``arch_learning_rate``, raised to
        ``arch_step_budget / (epochs x steps_per_epoch)`` where that is larger.

        Adam moves each architecture variable by at most about the learning rate per step, so
        lr x steps bounds how far alpha can travel from its near-uniform start. DARTS' recipe
        (3e-4 over 50 epochs x 391 steps on CIFAR-10) gives 5.9; a short search keeps alpha near
        uniform unless the rate grows as the budget shrinks. ``arch_step_budget=0`` keeps the
        rate fixed (the paper's recipe).
        """
        if not self.arch_step_budget:
            return self.arch_learning_rate
        return max(self.arch_learning_rate, self.arch_step_budget / (self.epochs * steps_per_epoch))


def _edge_names(space: str) -> list[str]:
    if space == nb201_space.SPACE:
        return [f"{t}<-{s}" for t, s in nb201_space.EDGES]
    # every other differentiable space (darts, bats) uses the DARTS cell
    return [f"n{n}<-{'s0' if s == 0 else 's1' if s == 1 else f'n{s - 2}'}" for n, s in darts_space.EDGES]


def architecture_decision(supernet, edge_names: list[str], none_choosable: bool) -> dict[str, Any]:
    """How decided the architecture is: the measure that tells a search from a random draw.

    Per cell type: the mean entropy of the edges' op distributions against the uniform
    distribution's (log of the number of ops; ``entropy_ratio`` 1.0 = nothing learnt), and per
    edge the op derivation chooses (the strongest; among the non-``none`` ops unless
    ``none_choosable``, as on NAS-Bench-201), its weight, the runner-up and the margin between
    them. A margin of a few thousandths means the chosen op is decided by noise.
    """
    ops = list(supernet.ops)
    candidates = [k for k, op in enumerate(ops) if none_choosable or op != "none"]
    uniform = float(np.log(len(ops)))
    cells: dict[str, Any] = {}
    for name, probs in supernet.op_probabilities().items():
        mean_entropy = float(entropy(probs).mean())
        edges = []
        for e, row in enumerate(probs):
            best, second = sorted(candidates, key=lambda k: -row[k])[:2]
            edges.append({"edge": edge_names[e], "op": ops[best], "weight": round(float(row[best]), 4),
                          "runner_up": ops[second], "margin": round(float(row[best] - row[second]), 4)})
        cells[name] = {"mean_entropy": round(mean_entropy, 5), "entropy_ratio": round(mean_entropy / uniform, 4),
                       "min_margin": min(edge["margin"] for edge in edges), "edges": edges}
    return {"uniform_entropy": round(uniform, 5), "cells": cells}


def architecture_optimizer(config: SearchConfig, steps_per_epoch: int) -> keras.optimizers.Adam:
    """Adam for the architecture variables (PyTorch's epsilon 1e-8; rate from ``resolved_arch_learning_rate``)."""
    return keras.optimizers.Adam(config.resolved_arch_learning_rate(steps_per_epoch), beta_1=config.arch_beta1,
                                 beta_2=0.999, epsilon=1e-8)


def build_search_model(config: SearchConfig, num_classes: int, steps_per_epoch: int) -> ArchitectureSearchModel:
    """Supernet + method model + optimizers (call inside the distribution strategy's scope)."""
    checkpoint = config.checkpoint_cells if config.checkpoint_cells is not None else config.space == "darts"
    supernet = build_supernet(config.space, num_classes, init_channels=config.init_channels,
                              layers=config.resolved_layers(), arch_activation=config.arch_activation,
                              temperature=config.temperature, seed=config.seed, checkpoint=checkpoint)
    arch_optimizer = architecture_optimizer(config, steps_per_epoch)
    common = dict(weight_decay=config.weight_decay, arch_weight_decay=config.arch_weight_decay,
                  grad_clip=config.grad_clip or None)
    if config.method == "darts":
        model: ArchitectureSearchModel = BilevelSearch(supernet, arch_optimizer, order=config.order, **common)
    else:
        model = SingleLevelSearch(supernet, arch_optimizer, **common)
    schedule = EpochCosineDecay(config.learning_rate, config.min_learning_rate, config.epochs, steps_per_epoch)
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=config.momentum))
    return model


ModelBuilder = Callable[[SearchConfig, int, int], ArchitectureSearchModel]
"""(config, num_classes, steps_per_epoch) -> compiled search model (called in the strategy's scope)."""


def run_differentiable_search(config: SearchConfig, model_builder: ModelBuilder | None = None,
                              extra_callbacks: Callable[[ArchitectureSearchModel], list] | None = None
                              ) -> dict[str, Any]:
    """Search (or resume a search) and write genotype.json and search_summary.json.

    Methods built on this driver (BATS) pass their own ``model_builder`` (default
    ``build_search_model``) and ``extra_callbacks(model)`` (e.g. schedules run each epoch).
    """
    config.validate()
    run_dir = RunDirectory(config.output_dir, fresh=config.fresh)
    run_dir.check_config(dataclasses.asdict(config), resumable_keys=("epochs",), safe_keys=SAFE_ON_RESUME)
    tf.keras.utils.set_random_seed(config.seed)
    data = load_image_data(config.dataset, config.data_dir, config.image_size)
    train_idx, val_idx = data.search_split(config.resolved_train_portion(), seed=config.seed)
    steps = steps_for(len(train_idx), config.batch_size, config.steps_per_epoch)
    if config.method == "darts":
        steps = min(steps, steps_for(len(val_idx), config.batch_size, config.steps_per_epoch))

    strategy = strategy_for(config.distribution)
    with strategy.scope(), precision_policy(config.mixed_precision):
        model = (model_builder or build_search_model)(config, data.num_classes, steps)
        model.supernet(tf.zeros([1, *data.image_shape]))
        model.build_optimizers()
        state = ResumableState(model, run_dir)
    start_epoch = state.restore_latest()
    # A constant learning rate is optimizer state and comes back with the checkpoint; the config's
    # value wins (--arch_learning_rate may be lowered on resume, see SAFE_ON_RESUME).
    model.arch_optimizer.learning_rate = config.arch_learning_rate

    augment = Augment.standard(data)
    train = train_stream(data, train_idx, config.batch_size, config.seed, augment, start_epoch, steps)
    if config.method == "darts":
        val_stream = train_stream(data, val_idx, config.batch_size, config.seed + 1, augment, start_epoch, steps)
        train = zip_streams([train, val_stream])
    # Single-level search with --train_portion=1.0 has no held-out part: its validation accuracy
    # is then the supernet's in-sample accuracy on the training split (inference mode).
    validation_source = "held_out" if len(val_idx) else "training_split"
    validation = eval_dataset(data, "train", val_idx if len(val_idx) else train_idx,
                              batch_size=max(config.batch_size, 128))

    summary_cb = ArchitectureSummary(model.supernet, run_dir.tensorboard + "/architecture", _edge_names(config.space))

    def epoch_record(epoch: int) -> dict[str, Any]:
        record = summary_cb.write(epoch)
        record["genotype"] = model.supernet.genotype().to_json()
        return record

    ckpt_cb = EpochCheckpoint(state, run_dir, epoch_record)
    temperature = TemperatureSchedule(model.supernet, config.epochs, config.temperature, config.final_temperature,
                                      config.temperature_schedule)
    callbacks = [temperature, ckpt_cb,
                 keras.callbacks.TensorBoard(run_dir.tensorboard, write_graph=False, update_freq="epoch")]
    if extra_callbacks is not None:
        callbacks = list(extra_callbacks(model)) + callbacks
    if start_epoch == 0:
        summary_cb.write(0)  # the initial architecture, so TensorBoard shows the start of the trajectory
    started = time.time()
    if start_epoch < config.epochs:
        model.fit(train, epochs=config.epochs, initial_epoch=start_epoch, steps_per_epoch=steps,
                  validation_data=validation, validation_steps=config.validation_steps,
                  callbacks=callbacks, verbose=config.verbose)
    ckpt_cb.raise_if_nonfinite("Lower --learning_rate or --arch_learning_rate, or raise --grad_clip, and re-run; "
                               "the search resumes from that epoch.")
    genotype = model.supernet.genotype()
    save_genotype(genotype, run_dir.file("genotype.json"))
    history = run_dir.history()
    summary = {
        "method": model.method if config.method != "darts" else f"darts_order{config.order}",
        "space": config.space,
        "dataset": config.dataset,
        "seed": config.seed,
        "wall_time_s": history[-1]["wall_time_s"] if history else round(time.time() - started, 2),
        "epochs": history,
        "genotype": genotype.to_json(),
        "train_portion": config.resolved_train_portion(),
        "validation_source": validation_source,
        "arch_learning_rate": config.resolved_arch_learning_rate(steps),
        "decision": architecture_decision(model.supernet, _edge_names(config.space),
                                          none_choosable=config.space == nb201_space.SPACE),
        "architecture": model.supernet.architecture_state(),
        "config": dataclasses.asdict(config),
        "tensorboard": run_dir.tensorboard,
    }
    write_json(run_dir.file("search_summary.json"), summary)
    return summary
