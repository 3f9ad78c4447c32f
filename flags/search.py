"""Flags of the differentiable search binaries (search_single_darts, search_darts).

Defaults are DARTS' CIFAR-10 search recipe (Liu et al. 2019), which Single-DARTS keeps.
"""
from __future__ import annotations

from absl import flags

from flags import common

SPACE = flags.DEFINE_enum("space", "nasbench201", ["nasbench201", "darts"],
                          "Search space: nasbench201 (6 edges x 5 ops) or darts (normal + reduce cells, 14 edges x 8 ops).")
LAYERS = flags.DEFINE_integer(
    "layers", None, "Search-network depth: DARTS cells in total (default 8); NAS-Bench-201 cells per stage (default 5).")
INIT_CHANNELS = flags.DEFINE_integer("init_channels", 16, "Channels of the first stage (C).")
TRAIN_PORTION = flags.DEFINE_float(
    "train_portion", None, "Fraction of the training split used for weights; the rest is the validation part "
    "(architecture steps in DARTS, held-out accuracy in Single-DARTS). Default: the method's (DARTS 0.5, the "
    "paper's; Single-DARTS see docs/METHODS.md). At 1.0 (single level only) the reported validation accuracy is "
    "the supernet's in-sample accuracy on the training split.")
LEARNING_RATE = flags.DEFINE_float("learning_rate", 0.025, "Weight SGD learning rate (cosine to --min_learning_rate).")
MIN_LEARNING_RATE = flags.DEFINE_float("min_learning_rate", 0.001, "Final weight learning rate of the cosine schedule.")
MOMENTUM = flags.DEFINE_float("momentum", 0.9, "Weight SGD momentum.")
WEIGHT_DECAY = flags.DEFINE_float("weight_decay", 3e-4, "L2 weight decay of network weights (added to the gradient).")
GRAD_CLIP = flags.DEFINE_float("grad_clip", 5.0, "Global-norm clip of weight gradients (0 disables).")
ARCH_LEARNING_RATE = flags.DEFINE_float(
    "arch_learning_rate", 3e-4, "Adam learning rate of the architecture variables (DARTS' 3e-4); raised for short "
    "searches by --arch_step_budget.")
ARCH_STEP_BUDGET = flags.DEFINE_float(
    "arch_step_budget", None, "Architecture learning rate x architecture steps the search gets at least: the rate "
    "is max(--arch_learning_rate, arch_step_budget / (epochs x steps per epoch)), so a short search still moves "
    "alpha. 0 keeps --arch_learning_rate fixed (DARTS' and Single-DARTS' recipe). Default: 30 for DARTS and "
    "Single-DARTS (measured on the embedded data, docs/METHODS.md), 0 for BATS.")
ARCH_WEIGHT_DECAY = flags.DEFINE_float("arch_weight_decay", 1e-3, "L2 decay of the architecture variables.")
ARCH_BETA1 = flags.DEFINE_float("arch_beta1", 0.5, "Adam beta_1 of the architecture optimizer.")
ARCH_WARMUP_EPOCHS = flags.DEFINE_integer(
    "arch_warmup_epochs", None, "Architecture warm-up: the first N epochs train the network weights only (the "
    "architecture learning rate is 0), so that ops which need training (convolutions) are trained before the "
    "architecture is scored. Default: 0 for DARTS and Single-DARTS (their papers' recipe); BATS' default, see "
    "docs/METHODS.md.")
ARCH_ACTIVATION = flags.DEFINE_enum(
    "arch_activation", "softmax", ["softmax", "sigmoid"],
    "Op weights from alpha: softmax (DARTS and the published Single-DARTS; the default) or sigmoid "
    "(the first Single-DARTS version, which scored every op independently).")
TEMPERATURE = flags.DEFINE_float(
    "temperature", 1.0, "Softmax temperature T: weights = softmax(alpha / T) (at epoch 0 with a schedule). 1 = DARTS "
    "and Single-DARTS.")
TEMPERATURE_SCHEDULE = flags.DEFINE_enum(
    "temperature_schedule", "constant", ["constant", "linear", "cosine", "exponential"],
    "How the architecture softmax temperature moves from --temperature to --final_temperature over the search "
    "epochs (reached at the last epoch). constant keeps --temperature (DARTS, Single-DARTS).")
FINAL_TEMPERATURE = flags.DEFINE_float(
    "final_temperature", None, "Temperature at the last epoch for a non-constant --temperature_schedule.")
CHECKPOINT_CELLS = flags.DEFINE_bool(
    "checkpoint_cells", None, "Recompute cell activations in the backward pass instead of storing them "
    "(about half the memory for one extra forward pass). Default: on for darts, off for nasbench201.")
VALIDATION_STEPS = flags.DEFINE_integer(
    "validation_steps", None, "Cap on validation batches evaluated per epoch (default: the whole validation part).")
ORDER = flags.DEFINE_integer("order", 1, "DARTS only: 1 = first-order, 2 = second-order (unrolled) architecture gradient.")


def search_config_kwargs() -> dict:
    """Values of the common and differentiable-search flags as ``SearchConfig`` keyword arguments.

    Shared by every differentiable search binary (DARTS, Single-DARTS, BATS), which add their own
    ``method``, ``space`` and method-specific fields.
    """
    return dict(
        output_dir=common.OUTPUT_DIR.value, order=ORDER.value,
        dataset=common.DATASET.value, data_dir=common.DATA_DIR.value, image_size=common.IMAGE_SIZE.value,
        seed=common.SEED.value, batch_size=common.BATCH_SIZE.value, epochs=common.EPOCHS.value,
        steps_per_epoch=common.STEPS_PER_EPOCH.value, validation_steps=VALIDATION_STEPS.value,
        layers=LAYERS.value, init_channels=INIT_CHANNELS.value,
        train_portion=TRAIN_PORTION.value, learning_rate=LEARNING_RATE.value,
        min_learning_rate=MIN_LEARNING_RATE.value, momentum=MOMENTUM.value,
        weight_decay=WEIGHT_DECAY.value, grad_clip=GRAD_CLIP.value,
        arch_learning_rate=ARCH_LEARNING_RATE.value, arch_weight_decay=ARCH_WEIGHT_DECAY.value,
        arch_beta1=ARCH_BETA1.value, arch_activation=ARCH_ACTIVATION.value,
        temperature=TEMPERATURE.value, temperature_schedule=TEMPERATURE_SCHEDULE.value,
        final_temperature=FINAL_TEMPERATURE.value, checkpoint_cells=CHECKPOINT_CELLS.value,
        distribution=common.DISTRIBUTION.value, sync_batch_norm=common.SYNC_BATCH_NORM.value,
        fresh=common.FRESH.value, verbose=common.VERBOSE.value, mixed_precision=common.MIXED_PRECISION.value,
        graph_optimization=common.GRAPH_OPTIMIZATION.value,
        # unset: the method's own default (SearchConfig / BatsSearchConfig)
        **({} if ARCH_STEP_BUDGET.value is None else {"arch_step_budget": ARCH_STEP_BUDGET.value}),
        **({} if ARCH_WARMUP_EPOCHS.value is None else {"arch_warmup_epochs": ARCH_WARMUP_EPOCHS.value}))
