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

import tensorflow as tf

from tfnas.data import Augment, eval_dataset, load_image_data, steps_for, train_stream, zip_streams
from tfnas.errors import ConfigError
from tfnas.methods.differentiable import METHODS, ArchitectureSearchModel, BilevelSearch, SingleLevelSearch
from tfnas.supernets.replicas import synchronize_batch_norm
from tfnas.training.distribution import (check_workers_agree, shard_by_data, strategy_for, validate_distribution,
                                        writes_run_files)
from tfnas.training.schedules import EpochCosineDecay
from tfnas.spaces import darts as darts_space
from tfnas.spaces import nasbench201 as nb201_space
from tfnas.spaces.base import save_genotype
from tfnas.supernets.differentiable import SUPERNETS, build_supernet
from tfnas.training.arch_summaries import ArchitectureSummary
from tfnas.training.checkpointing import EpochCheckpoint, ResumableState
from tfnas.training.precision import precision_policy, validate_policy
from tfnas.files import write_json
from tfnas.run_dir import RunDirectory

keras = tf.keras

DEFAULT_LAYERS = {"darts": 8, "nasbench201": 5}
"""Search-network depth: DARTS cells in total; NAS-Bench-201 cells per stage (N)."""


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
    train_portion: float = 0.5
    learning_rate: float = 0.025
    min_learning_rate: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_learning_rate: float = 3e-4
    arch_weight_decay: float = 1e-3
    arch_beta1: float = 0.5
    arch_activation: str = "softmax"
    temperature: float = 1.0
    checkpoint_cells: bool | None = None
    mixed_precision: str = "float32"  # tfnas.training.precision.POLICIES
    distribution: str = "default"  # tfnas.training.distribution.STRATEGIES
    sync_batch_norm: bool = True  # global-batch BN statistics when there is more than one replica
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
        if self.method == "darts" and self.train_portion >= 1.0:
            raise ConfigError("bi-level DARTS needs a validation part: --train_portion must be below 1")
        for name in ("batch_size", "epochs", "init_channels"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name} must be positive, got {getattr(self, name)}")
        validate_policy(self.mixed_precision)
        validate_distribution(self.distribution)

    def resolved_layers(self) -> int:
        return self.layers or DEFAULT_LAYERS[self.space]


def _edge_names(space: str) -> list[str]:
    if space == nb201_space.SPACE:
        return [f"{t}<-{s}" for t, s in nb201_space.EDGES]
    # every other differentiable space (darts, bats) uses the DARTS cell
    return [f"n{n}<-{'s0' if s == 0 else 's1' if s == 1 else f'n{s - 2}'}" for n, s in darts_space.EDGES]


def build_search_model(config: SearchConfig, num_classes: int, steps_per_epoch: int) -> ArchitectureSearchModel:
    """Supernet + method model + optimizers (call inside the distribution strategy's scope)."""
    checkpoint = config.checkpoint_cells if config.checkpoint_cells is not None else config.space == "darts"
    supernet = build_supernet(config.space, num_classes, init_channels=config.init_channels,
                              layers=config.resolved_layers(), arch_activation=config.arch_activation,
                              temperature=config.temperature, seed=config.seed, checkpoint=checkpoint)
    arch_optimizer = keras.optimizers.Adam(config.arch_learning_rate, beta_1=config.arch_beta1, beta_2=0.999,
                                           epsilon=1e-8)
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
    # First: MultiWorkerMirroredStrategy configures collective ops, which must precede any TF op
    strategy = strategy_for(config.distribution)
    writer = writes_run_files(config.distribution)  # False on a multi-worker run's non-chief workers
    run_dir = RunDirectory(config.output_dir, fresh=config.fresh, writer=writer)
    if writer or not config.fresh:  # with --fresh the chief moves the old run (and its settings) aside
        run_dir.check_config(dataclasses.asdict(config), resumable_keys=("epochs",), safe_keys=SAFE_ON_RESUME)
    tf.keras.utils.set_random_seed(config.seed)
    data = load_image_data(config.dataset, config.data_dir, config.image_size)
    train_idx, val_idx = data.search_split(config.train_portion, seed=config.seed)
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
    # value wins (--arch_learning_rate may be lowered on resume, see SAFE_ON_RESUME).
    model.arch_optimizer.learning_rate = config.arch_learning_rate

    augment = Augment.standard(data)
    train = train_stream(data, train_idx, config.batch_size, config.seed, augment, start_epoch, steps)
    if config.method == "darts":
        val_stream = train_stream(data, val_idx, config.batch_size, config.seed + 1, augment, start_epoch, steps)
        train = zip_streams([train, val_stream])
    validation = eval_dataset(data, "train", val_idx, batch_size=max(config.batch_size, 128)) if len(val_idx) else None
    train, validation = shard_by_data(train), shard_by_data(validation)

    summary_cb = ArchitectureSummary(model.supernet, run_dir.tensorboard + "/architecture", _edge_names(config.space))

    def epoch_record(epoch: int) -> dict[str, Any]:
        record = summary_cb.write(epoch)
        record["genotype"] = model.supernet.genotype().to_json()
        return record

    ckpt_cb = EpochCheckpoint(state, run_dir, epoch_record)
    callbacks = [ckpt_cb, keras.callbacks.TensorBoard(run_dir.tensorboard, write_graph=False, update_freq="epoch")]
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
    history = run_dir.history()
    summary = {
        "method": model.method if config.method != "darts" else f"darts_order{config.order}",
        "space": config.space,
        "dataset": config.dataset,
        "seed": config.seed,
        "wall_time_s": history[-1]["wall_time_s"] if history else round(time.time() - started, 2),
        "epochs": history,
        "genotype": genotype.to_json(),
        "architecture": model.supernet.architecture_state(),
        "config": dataclasses.asdict(config),
        "tensorboard": run_dir.tensorboard,
    }
    if writer:
        save_genotype(genotype, run_dir.file("genotype.json"))
        write_json(run_dir.file("search_summary.json"), summary)
    return summary
