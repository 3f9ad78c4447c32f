"""ViTAS search: identity probability tuned to a FLOPs window, super-transformer training, evolution in the window.

    python -m binaries.search_vitas --dataset=mnist_embedded --min_mflops=0.8 --max_mflops=1.2 \
        --output_dir=runs/vitas
    python -m binaries.train --genotype=runs/vitas/genotype.json --inherit_from=runs/vitas --output_dir=runs/vit
    python -m binaries.search_vitas --space_config=vitas_1g --dataset=imagenet2012 --min_mflops=900 \
        --max_mflops=1000 --epochs=300 --batch_size=1024 --output_dir=runs/vitas_1g     # the paper's 1G search

Writes to --output_dir (tfnas.methods.vitas.run_vitas_search): genotype.json, inherited_model/ (the found
child with the super-transformer's weights), search_summary.json (window, tuned identity probability,
supernet history, every generation's population with MFLOPs and fitness, the found genotype's mflops),
checkpoints/, searcher_state.json, TensorBoard events under tensorboard/. Re-running with the same
--output_dir resumes (supernet epochs, evolution candidates) unless --fresh.
"""
from __future__ import annotations

import tfnas  # noqa: F401  (Keras 2 switch, before TensorFlow)

import flags as flags_help

import json

from absl import app

from flags import common
from flags import vitas as vflags
from tfnas.errors import ConfigError, exit_on_user_error
from tfnas.logs import quiet_tensorflow_logs

flags_help.show_in_help()


def config_from_flags():
    from tfnas.configs.vitas import VitasSearchConfig

    if vflags.MIN_MFLOPS.value is None or vflags.MAX_MFLOPS.value is None:
        raise ConfigError("pass the FLOPs window: --min_mflops=<M> --max_mflops=<M> (millions of multiply-accumulates "
                          "per image)")
    try:
        patches = tuple(int(p) for p in vflags.PATCH_SIZES.value) if vflags.PATCH_SIZES.value else None
    except ValueError:
        raise ConfigError(f"--patch_sizes must be integers, got {vflags.PATCH_SIZES.value}") from None
    return VitasSearchConfig(
        output_dir=common.OUTPUT_DIR.value, min_mflops=vflags.MIN_MFLOPS.value, max_mflops=vflags.MAX_MFLOPS.value,
        dataset=common.DATASET.value, data_dir=common.DATA_DIR.value, space_config=vflags.SPACE_CONFIG.value,
        image_size=common.IMAGE_SIZE.value, patch_sizes=patches, num_slots=vflags.NUM_SLOTS.value,
        weight_sharing=vflags.WEIGHT_SHARING.value, private_class_token=vflags.PRIVATE_CLASS_TOKEN.value,
        identity_samples=vflags.IDENTITY_SAMPLES.value, identity_step=vflags.IDENTITY_STEP.value,
        seed=common.SEED.value, epochs=common.EPOCHS.value, steps_per_epoch=common.STEPS_PER_EPOCH.value,
        batch_size=common.BATCH_SIZE.value, learning_rate=vflags.LEARNING_RATE.value,
        min_learning_rate=vflags.MIN_LEARNING_RATE.value, warmup_epochs=vflags.WARMUP_EPOCHS.value,
        weight_decay=vflags.WEIGHT_DECAY.value, label_smoothing=vflags.LABEL_SMOOTHING.value,
        cutmix_alpha=vflags.CUTMIX_ALPHA.value, train_portion=vflags.TRAIN_PORTION.value,
        eval_examples=vflags.EVAL_EXAMPLES.value, evolution_population_size=vflags.EVOLUTION_POPULATION_SIZE.value,
        evolution_generations=vflags.EVOLUTION_GENERATIONS.value, crossover_prob=vflags.CROSSOVER_PROB.value,
        mutation_prob=vflags.MUTATION_PROB.value, flops_penalty=vflags.FLOPS_PENALTY.value, fresh=common.FRESH.value,
        verbose=common.VERBOSE.value)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    with exit_on_user_error():
        config = config_from_flags()  # --output_dir is required by the config (re-running it resumes)
        common.require_one_device("search_vitas", "its super-transformer step under a strategy does not yet "
                                  "equal the one-device step")
        config.validate()  # before TensorFlow is imported: a bad flag fails in about a second
        quiet_tensorflow_logs()
        from tfnas.methods.vitas import run_vitas_search

        summary = run_vitas_search(config)
    print(json.dumps({"architecture": summary["architecture"], "mflops": summary["mflops"],
                      "flops_window_mflops": summary["flops_window_mflops"],
                      "identity_probability": summary["identity_probability"],
                      "supernet_fitness": summary["supernet_fitness"], "output_dir": common.OUTPUT_DIR.value},
                     indent=2))


if __name__ == "__main__":
    app.run(main)
