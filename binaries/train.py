"""Train the network of any genotype with the DARTS evaluation recipe (flags), resumably.

  python -m binaries.train --genotype=runs/sd/genotype.json --dataset=mnist_embedded --output_dir=runs/train
  python -m binaries.train --genotype=runs/bats/genotype.json --binary --output_dir=runs/bats_train   # binary (BATS)
Writes <output_dir>/model/ (config.json + weights, read by binaries.export), train_summary.json,
history.json and TensorBoard events; re-run with the same output_dir to resume.
"""
import tfnas  # noqa: F401  (selects Keras 2 before TensorFlow is imported)

import flags as flags_help

import json

from absl import app
from absl import flags as absl_flags

import flags.binary_network as net_flags
import flags.common as common
import flags.distillation as kd_flags
import flags.train as train_flags
from tfnas.errors import exit_on_user_error
from tfnas.logs import quiet_tensorflow_logs

flags_help.show_in_help()


absl_flags.mark_flags_as_required(["genotype", "output_dir"])
FLAGS = absl_flags.FLAGS


def _recipe(name: str, value):
    """The flag's value, or the binary recipe's default when --binary and the flag was not given."""
    from tfnas.configs.train import BINARY_RECIPE

    if train_flags.BINARY.value and not FLAGS[name].present and name in BINARY_RECIPE:
        return BINARY_RECIPE[name]
    return value


def _network_options() -> dict:
    """Binary-network builder options (recorded in the model directory so export rebuilds the same network)."""
    if not train_flags.BINARY.value:
        return {}
    n = net_flags
    return {"groups": n.GROUPS.value, "shuffle_groups": n.SHUFFLE_GROUPS.value,
            "binary_preprocess": n.BINARY_PREPROCESS.value, "binary_downsample": n.BINARY_DOWNSAMPLE.value,
            "lce_compatible": train_flags.LCE_COMPATIBLE.value}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    quiet_tensorflow_logs()
    from tfnas.configs.train import TrainConfig

    f = train_flags
    config = TrainConfig(
        output_dir=common.OUTPUT_DIR.value, genotype=f.GENOTYPE.value, dataset=common.DATASET.value,
        data_dir=common.DATA_DIR.value, image_size=common.IMAGE_SIZE.value, seed=common.SEED.value,
        batch_size=common.BATCH_SIZE.value, epochs=common.EPOCHS.value, steps_per_epoch=common.STEPS_PER_EPOCH.value,
        layers=f.LAYERS.value, init_channels=f.INIT_CHANNELS.value,
        learning_rate=_recipe("learning_rate", f.LEARNING_RATE.value),
        min_learning_rate=f.MIN_LEARNING_RATE.value, momentum=f.MOMENTUM.value,
        weight_decay=_recipe("weight_decay", f.WEIGHT_DECAY.value), optimizer=_recipe("optimizer", f.OPTIMIZER.value),
        grad_clip=f.GRAD_CLIP.value, cutout=f.CUTOUT.value, drop_path=f.DROP_PATH.value, auxiliary=f.AUXILIARY.value,
        auxiliary_weight=f.AUXILIARY_WEIGHT.value, label_smoothing=f.LABEL_SMOOTHING.value,
        warmup_epochs=f.WARMUP_EPOCHS.value, stem=f.STEM.value, distribution=common.DISTRIBUTION.value,
        fresh=common.FRESH.value, verbose=common.VERBOSE.value, binary=f.BINARY.value,
        binary_stage1_epochs=f.BINARY_STAGE1_EPOCHS.value, network_options=_network_options(),
        teacher=kd_flags.TEACHER.value, kd_weight=kd_flags.KD_WEIGHT.value,
        kd_temperature=kd_flags.KD_TEMPERATURE.value, inherit_from=f.INHERIT_FROM.value,
        mixed_precision=common.MIXED_PRECISION.value, graph_optimization=common.GRAPH_OPTIMIZATION.value)
    with exit_on_user_error():
        config.validate()  # before TensorFlow is imported: a bad flag fails in about a second
        from tfnas.training.trainer import train_genotype

        summary = train_genotype(config)
    print(json.dumps({k: summary[k] for k in ("test_accuracy", "params", "wall_time_s", "model_dir", "tensorboard")},
                     indent=2))


if __name__ == "__main__":
    app.run(main)
