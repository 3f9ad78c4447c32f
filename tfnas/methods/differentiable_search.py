"""Running a differentiable search end to end: data, supernet, method, resume, outputs.

``run_differentiable_search(config)`` is what ``binaries.search_single_darts`` and
``binaries.search_darts`` call. It writes to ``config.output_dir``:
  genotype.json         the derived architecture (JSON naming its space and version)
  search_summary.json   method, space, seed, wall time, per-epoch metrics and genotypes, final
                        architecture weights, configuration
  history.json, checkpoints/, tensorboard/ (see tfnas.run_dir)
and resumes from the last completed epoch when re-run with the same output_dir.

Under ``--distribution=mirrored|multi_worker`` the global batch (``batch_size``) is split across the
replicas and a step is the one-device step on it (tfnas.methods.differentiable; with
``sync_batch_norm`` BatchNorm uses the global batch's statistics too, tfnas.supernets.replicas).
On a multi-worker run only the chief writes the output directory; the other workers resume from
its checkpoints (tfnas.training.distribution).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np
import tensorflow as tf
from absl import logging

from tfnas.data import Augment, eval_dataset, load_image_data, steps_for, train_stream, zip_streams
from tfnas.methods.differentiable import METHODS, ArchitectureSearchModel, BilevelSearch, SingleLevelSearch
from tfnas.supernets.replicas import synchronize_batch_norm
from tfnas.training.distribution import (check_workers_agree, shard_by_data, strategy_for, validate_distribution,
                                        writes_run_files)
from tfnas.training.schedules import EpochCosineDecay
from tfnas.spaces import darts as darts_space
from tfnas.spaces import nasbench201 as nb201_space
from tfnas.spaces.base import save_genotype
from tfnas.supernets.differentiable import SUPERNETS, build_supernet
from tfnas.training.arch_summaries import ArchitectureSummary, EpochTensorBoard, entropy
from tfnas.training.checkpointing import EpochCheckpoint, ResumableState
from tfnas.training.progress import fit_verbosity
from tfnas.training.precision import precision_policy
from tfnas.files import write_json
from tfnas.run_dir import RunDirectory
from tfnas.training.arch_warmup import ArchitectureWarmup
from tfnas.training.temperature import TemperatureSchedule
from tfnas.configs.differentiable import (  # noqa: F401  (re-exported: the driver's settings)
    ARCH_STEP_BUDGET, DEFAULT_LAYERS, DEFAULT_TRAIN_PORTION, SAFE_ON_RESUME, SearchConfig)
from tfnas.configs import differentiable as _configs
from tfnas.graph_optimization import applies_config_graph_optimization

assert set(_configs.METHODS) == set(METHODS) and set(_configs.SPACES) == set(SUPERNETS)

keras = tf.keras

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


@applies_config_graph_optimization
def run_differentiable_search(config: SearchConfig, model_builder: ModelBuilder | None = None,
                              extra_callbacks: Callable[[ArchitectureSearchModel], list] | None = None
                              ) -> dict[str, Any]:
    """Search (or resume a search) and write genotype.json and search_summary.json.

    Methods built on this driver (BATS) pass their own ``model_builder`` (default
    ``build_search_model``) and ``extra_callbacks(model)`` (e.g. schedules run each epoch).
    """
    config.validate()
    # First: MultiWorkerMirroredStrategy configures collective ops, which must precede any TF op
    strategy = strategy_for(config.distribution)
    writer = writes_run_files(config.distribution)  # False on a multi-worker run's non-chief workers
    run_dir = RunDirectory(config.output_dir, fresh=config.fresh, writer=writer)
    if writer or not config.fresh:  # with --fresh the chief moves the old run (and its settings) aside
        run_dir.check_config(dataclasses.asdict(config), resumable_keys=("epochs",), safe_keys=SAFE_ON_RESUME)
    tf.keras.utils.set_random_seed(config.seed)
    data = load_image_data(config.dataset, config.data_dir, config.image_size)
    train_idx, val_idx = data.search_split(config.resolved_train_portion(), seed=config.seed)
    steps = steps_for(len(train_idx), config.batch_size, config.steps_per_epoch)
    if config.method == "darts":
        steps = min(steps, steps_for(len(val_idx), config.batch_size, config.steps_per_epoch))

    with strategy.scope(), precision_policy(config.mixed_precision):
        model = (model_builder or build_search_model)(config, data.num_classes, steps)
        model.supernet(tf.zeros([1, *data.image_shape]))
        model.build_optimizers()
        if config.sync_batch_norm and strategy.num_replicas_in_sync > 1:
            synchronize_batch_norm(model.supernet)
        state = ResumableState(model, run_dir)
    start_epoch = 0 if config.fresh and not writer else state.restore_latest()
    check_workers_agree(strategy, start_epoch, "search")
    # A constant learning rate is optimizer state and comes back with the checkpoint; the config's
    # value wins (--arch_learning_rate may be lowered on resume, see SAFE_ON_RESUME), raised as for a
    # fresh search by --arch_step_budget.
    arch_lr = config.resolved_arch_learning_rate(steps)
    restored_lr = float(tf.keras.backend.get_value(model.arch_optimizer.learning_rate))
    # (a run checkpointed inside its architecture warm-up saved the warm-up's rate 0)
    if start_epoch > config.arch_warmup_epochs and not np.isclose(restored_lr, arch_lr, rtol=1e-6):
        logging.warning("resuming at epoch %d with architecture learning rate %.4g (the run so far used %.4g): "
                        "--arch_step_budget spreads over --epochs=%d now, so the result differs from a search started "
                        "with these settings; --arch_step_budget=0 keeps the rate fixed", start_epoch + 1, arch_lr,
                        restored_lr, config.epochs)
    model.arch_optimizer.learning_rate = arch_lr

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
    train, validation = shard_by_data(train), shard_by_data(validation)

    summary_cb = ArchitectureSummary(model.supernet, run_dir.tensorboard + "/architecture", _edge_names(config.space))

    def epoch_record(epoch: int) -> dict[str, Any]:
        record = summary_cb.write(epoch)
        record["genotype"] = model.supernet.genotype().to_json()
        return record

    ckpt_cb = EpochCheckpoint(state, run_dir, epoch_record)
    temperature = TemperatureSchedule(model.supernet, config.epochs, config.temperature, config.final_temperature,
                                      config.temperature_schedule)
    callbacks = [temperature, ArchitectureWarmup(model.arch_optimizer, config.arch_warmup_epochs, arch_lr), ckpt_cb,
                 EpochTensorBoard(run_dir.tensorboard, write_graph=False, update_freq="epoch")]
    if extra_callbacks is not None:
        callbacks = list(extra_callbacks(model)) + callbacks
    if start_epoch == 0:
        summary_cb.write(0)  # the initial architecture, so TensorBoard shows the start of the trajectory
    started = time.time()
    if start_epoch < config.epochs:
        keras_verbose, progress = fit_verbosity(config.verbose, f"{config.method} search", config.epochs)
        model.fit(train, epochs=config.epochs, initial_epoch=start_epoch, steps_per_epoch=steps,
                  validation_data=validation, validation_steps=config.validation_steps,
                  callbacks=callbacks + progress, verbose=keras_verbose)
    ckpt_cb.raise_if_nonfinite("Lower --learning_rate or --arch_learning_rate, or raise --grad_clip, and re-run; "
                               "the search resumes from that epoch.")
    genotype = model.supernet.genotype()
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
    if writer:
        save_genotype(genotype, run_dir.file("genotype.json"))
        write_json(run_dir.file("search_summary.json"), summary)
    return summary
