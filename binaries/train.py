"""Train the network of any genotype with the DARTS evaluation recipe (flags), resumably.

  python -m binaries.train --genotype=runs/sd/genotype.json --dataset=mnist_embedded --output_dir=runs/train
Writes <output_dir>/model/ (config.json + weights, read by binaries.export), train_summary.json,
history.json and TensorBoard events; re-run with the same output_dir to resume.
"""
import tfnas  # noqa: F401  (selects Keras 2 before TensorFlow is imported)

import json

from absl import app
from absl import flags as absl_flags

import flags.common as common
import flags.train as train_flags
from tfnas.errors import exit_on_user_error
from tfnas.logs import quiet_tensorflow_logs

absl_flags.mark_flags_as_required(["genotype", "output_dir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    quiet_tensorflow_logs()
    from tfnas.training.trainer import TrainConfig, train_genotype

    f = train_flags
    config = TrainConfig(
        output_dir=common.OUTPUT_DIR.value, genotype=f.GENOTYPE.value, dataset=common.DATASET.value,
        data_dir=common.DATA_DIR.value, image_size=common.IMAGE_SIZE.value, seed=common.SEED.value,
        batch_size=common.BATCH_SIZE.value, epochs=common.EPOCHS.value, steps_per_epoch=common.STEPS_PER_EPOCH.value,
        layers=f.LAYERS.value, init_channels=f.INIT_CHANNELS.value, learning_rate=f.LEARNING_RATE.value,
        min_learning_rate=f.MIN_LEARNING_RATE.value, momentum=f.MOMENTUM.value, weight_decay=f.WEIGHT_DECAY.value,
        grad_clip=f.GRAD_CLIP.value, cutout=f.CUTOUT.value, drop_path=f.DROP_PATH.value, auxiliary=f.AUXILIARY.value,
        auxiliary_weight=f.AUXILIARY_WEIGHT.value, label_smoothing=f.LABEL_SMOOTHING.value,
        warmup_epochs=f.WARMUP_EPOCHS.value, stem=f.STEM.value, distribution=common.DISTRIBUTION.value,
        fresh=common.FRESH.value, verbose=common.VERBOSE.value)
    with exit_on_user_error():
        summary = train_genotype(config)
    print(json.dumps({k: summary[k] for k in ("test_accuracy", "params", "wall_time_s", "model_dir", "tensorboard")},
                     indent=2))


if __name__ == "__main__":
    app.run(main)
