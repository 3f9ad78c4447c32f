"""BATS: binary architecture search (Bulat, Martinez, Tzimiropoulos, ECCV 2020).

  python -m binaries.search_bats --dataset=mnist_embedded --output_dir=runs/bats
  python -m binaries.search_bats --naive --kd_weight=0 --temperature=1 --output_dir=runs/naive   # the baseline
Writes <output_dir>/genotype.json, search_summary.json and TensorBoard events (architecture heatmaps,
per-edge entropy, parameter-free ops, temperature); with distillation, the real-valued teacher
search in <output_dir>/teacher. Re-run to resume. Train the result with
  python -m binaries.train --genotype=runs/bats/genotype.json --binary --output_dir=runs/bats_train
"""
import tfnas  # noqa: F401  (selects Keras 2 before TensorFlow is imported)

import flags as flags_help

import json
import sys

from absl import app
from absl import flags as absl_flags
from absl import logging

import flags.bats as bats_flags
import flags.binary_network as net_flags
import flags.common as common
import flags.distillation as kd_flags
import flags.search as search
from tfnas.logs import quiet_tensorflow_logs

flags_help.show_in_help()


FLAGS = absl_flags.FLAGS
absl_flags.mark_flag_as_required("output_dir")
# BATS' defaults for flags shared with other binaries (docs/METHODS.md, BATS)
FLAGS.set_default("temperature", 0.2)
FLAGS.set_default("kd_weight", 1.0)
FLAGS.set_default("teacher", "supernet")


def config_from_flags():
    from tfnas.configs.bats import BatsSearchConfig

    b = bats_flags
    return BatsSearchConfig(
        method=b.METHOD.value, **search.search_config_kwargs(),
        naive=b.NAIVE.value, binarize=b.BINARIZE.value,
        binarize_warmup_epochs=b.BINARIZE_WARMUP_EPOCHS.value, kd_weight=kd_flags.KD_WEIGHT.value,
        kd_temperature=kd_flags.KD_TEMPERATURE.value, teacher=kd_flags.TEACHER.value or "supernet",
        teacher_epochs=b.TEACHER_EPOCHS.value,
        groups=net_flags.GROUPS.value, deploy_init_channels=b.DEPLOY_INIT_CHANNELS.value,
        shuffle_groups=net_flags.SHUFFLE_GROUPS.value,
        binary_preprocess=net_flags.BINARY_PREPROCESS.value, binary_downsample=net_flags.BINARY_DOWNSAMPLE.value)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS["space"].present:
        raise app.UsageError("search_bats searches the BATS space; --space does not apply (use --naive for DARTS' "
                             "ops binarised)")
    quiet_tensorflow_logs()
    from tfnas.errors import exit_on_user_error

    with exit_on_user_error():
        config = config_from_flags()
        config.validate()  # before TensorFlow is imported: a bad flag fails in about a second
        from tfnas.methods.bats import run_bats_search

        summary = run_bats_search(config)
    last = summary["epochs"][-1] if summary["epochs"] else {}
    logging.info("BATS search finished in %.1f s (teacher included)", summary["total_wall_time_s"])
    print(json.dumps({"genotype": summary["genotype"], "val_accuracy": last.get("val_accuracy"),
                      "parameter_free_ops": last.get("parameter_free_ops"),
                      "wall_time_s": summary["total_wall_time_s"], "output_dir": common.OUTPUT_DIR.value,
                      "tensorboard": summary["tensorboard"]}, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    app.run(main)
