"""HURRICANE search: hardware-aware space generation from a device table, then two-stage SPOS under a latency limit.

    python -m binaries.profile_latency --build_table --resolution=32 --width_multiplier=0.25 --output=table.json
    python -m binaries.search_hurricane --device_table=table.json --max_latency_ms=1.5 --resolution=32 \
        --width_multiplier=0.25 --output_dir=runs/hurricane

Writes to --output_dir (tfnas.methods.hurricane.run_hurricane_search): generated_space.json,
genotype.json (trains with binaries.train, exports with binaries.export), search_summary.json,
measured_latency.json, one directory per stage, TensorBoard events under tensorboard/. Re-running
with the same --output_dir resumes (supernet training per epoch, evolution per candidate) unless --fresh.
"""
from __future__ import annotations

import tfnas  # noqa: F401  (Keras 2 switch, before TensorFlow)

import flags as flags_help

import json

from absl import app

from flags import common, hardware
from flags import hurricane as hflags
from tfnas.errors import ConfigError, exit_on_user_error
from tfnas.logs import quiet_tensorflow_logs

flags_help.show_in_help()


def config_from_flags():
    from tfnas.configs.hurricane import HurricaneSearchConfig

    return HurricaneSearchConfig(
        output_dir=common.OUTPUT_DIR.value, device_table=hflags.DEVICE_TABLE.value,
        max_latency_ms=hflags.MAX_LATENCY_MS.value, dataset=common.DATASET.value, data_dir=common.DATA_DIR.value,
        resolution=hardware.RESOLUTION.value, width_multiplier=hardware.WIDTH_MULTIPLIER.value,
        top_k=hflags.TOP_K.value, latency_weight=hflags.LATENCY_WEIGHT.value, stages=hflags.STAGES.value,
        stage_split=hflags.STAGE_SPLIT.value, epochs=common.EPOCHS.value, stage1_epochs=hflags.STAGE1_EPOCHS.value,
        stage2_epochs=hflags.STAGE2_EPOCHS.value, steps_per_epoch=common.STEPS_PER_EPOCH.value,
        batch_size=common.BATCH_SIZE.value, learning_rate=hflags.LEARNING_RATE.value, momentum=hflags.MOMENTUM.value,
        weight_decay=hflags.WEIGHT_DECAY.value, label_smoothing=hflags.SUPERNET_LABEL_SMOOTHING.value,
        bn_affine=hflags.BN_AFFINE.value, train_portion=hflags.TRAIN_PORTION.value,
        recalibration_batches=hflags.RECALIBRATION_BATCHES.value, eval_examples=hflags.EVAL_EXAMPLES.value,
        population_size=hflags.POPULATION_SIZE.value, generations=hflags.GENERATIONS.value,
        num_parents=hflags.NUM_PARENTS.value, num_mutations=hflags.NUM_MUTATIONS.value,
        num_crossovers=hflags.NUM_CROSSOVERS.value, mutation_prob=hflags.MUTATION_PROB.value, seed=common.SEED.value,
        measure_best=hflags.MEASURE_BEST.value, num_runs=hardware.NUM_RUNS.value,
        warmup_runs=hardware.WARMUP_RUNS.value, fresh=common.FRESH.value, verbose=common.VERBOSE.value)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    with exit_on_user_error():
        if not common.OUTPUT_DIR.value:
            raise ConfigError("pass --output_dir=<dir> (re-running with the same directory resumes)")
        common.require_one_device("search_hurricane", "its supernet train step is replica-correct, but supernet "
                                  "training, BN recalibration and evolution are not run under a strategy")
        config = config_from_flags()
        config.validate()  # before TensorFlow is imported: a bad flag fails in about a second
        quiet_tensorflow_logs()
        from tfnas.methods.hurricane import run_hurricane_search

        summary = run_hurricane_search(config)
    best = summary["best"]
    print(json.dumps({"genotype": best["genotype"]["ops"], "accuracy": best["accuracy"],
                      "predicted_latency_ms": best["predicted_latency_ms"],
                      "measured_latency_ms": best["measured_latency_ms"], "training_time_s": summary["training_time_s"],
                      "output_dir": common.OUTPUT_DIR.value,
                      **({"warnings": summary["warnings"]} if summary.get("warnings") else {})}, indent=2))


if __name__ == "__main__":
    app.run(main)
