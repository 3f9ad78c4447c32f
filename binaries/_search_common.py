"""Shared body of the differentiable search binaries: flags -> SearchConfig -> run -> summary."""
from __future__ import annotations

import json
import sys

from absl import app, logging

import flags.common as common
import flags.search as search
from tfnas.errors import exit_on_user_error
from tfnas.logs import quiet_tensorflow_logs
from tfnas.methods.differentiable_search import SearchConfig, run_differentiable_search


def config_from_flags(method: str) -> SearchConfig:
    return SearchConfig(
        output_dir=common.OUTPUT_DIR.value, method=method, order=search.ORDER.value, space=search.SPACE.value,
        dataset=common.DATASET.value, data_dir=common.DATA_DIR.value, image_size=common.IMAGE_SIZE.value,
        seed=common.SEED.value, batch_size=common.BATCH_SIZE.value, epochs=common.EPOCHS.value,
        steps_per_epoch=common.STEPS_PER_EPOCH.value, validation_steps=search.VALIDATION_STEPS.value,
        layers=search.LAYERS.value, init_channels=search.INIT_CHANNELS.value,
        train_portion=search.TRAIN_PORTION.value, learning_rate=search.LEARNING_RATE.value,
        min_learning_rate=search.MIN_LEARNING_RATE.value, momentum=search.MOMENTUM.value,
        weight_decay=search.WEIGHT_DECAY.value, grad_clip=search.GRAD_CLIP.value,
        arch_learning_rate=search.ARCH_LEARNING_RATE.value, arch_weight_decay=search.ARCH_WEIGHT_DECAY.value,
        arch_beta1=search.ARCH_BETA1.value, arch_activation=search.ARCH_ACTIVATION.value,
        temperature=search.TEMPERATURE.value, checkpoint_cells=search.CHECKPOINT_CELLS.value,
        distribution=common.DISTRIBUTION.value, fresh=common.FRESH.value, verbose=common.VERBOSE.value)


def make_main(method: str):
    """The absl main of a differentiable search binary for ``method``."""

    def main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {argv[1:]}")
        quiet_tensorflow_logs()
        run(method)

    return main


def run(method: str) -> None:
    with exit_on_user_error():
        summary = run_differentiable_search(config_from_flags(method))
    last = summary["epochs"][-1] if summary["epochs"] else {}
    logging.info("search finished in %.1f s", summary["wall_time_s"])
    print(json.dumps({"genotype": summary["genotype"], "val_accuracy": last.get("val_accuracy"),
                      "wall_time_s": summary["wall_time_s"], "output_dir": common.OUTPUT_DIR.value,
                      "tensorboard": summary["tensorboard"]}, indent=2))
    sys.stdout.flush()
