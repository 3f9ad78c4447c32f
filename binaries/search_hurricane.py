"""HURRICANE search: hardware-aware space generation from a device table, then two-stage SPOS under a latency limit.

    python -m binaries.profile_latency --build_table --resolution=32 --width_multiplier=0.25 --output=table.json
    python -m binaries.search_hurricane --device_table=table.json --max_latency_ms=1.5 --resolution=32 \
        --width_multiplier=0.25 --output_dir=runs/hurricane

Writes to --output_dir: generated_space.json (the per-device candidates and every op's score),
genotype.json (the best architecture; trains with binaries.train, exports with binaries.export),
search_summary.json (best = {genotype, predicted_latency_ms, measured_latency_ms, accuracy}, the
history of every evaluated candidate with its predicted latency and supernet accuracy, per-stage
training and search times), TensorBoard scalars under tensorboard/. Re-running with the same
--output_dir resumes (supernet training per epoch, evolution per candidate) unless --fresh.
"""
from __future__ import annotations

import tfnas  # noqa: F401  (Keras 2 switch, before TensorFlow)

import json
import os
import shutil
import sys
import time
from typing import Any

from absl import app, logging

from flags import common, hardware
from flags import hurricane as hflags
from tfnas.errors import ConfigError, exit_on_user_error
from tfnas.files import write_json

CONFIG_FILE = "config.json"


def settings_from_flags():
    from tfnas.methods import hurricane as method

    return method.SearchSettings(
        max_latency_ms=hflags.MAX_LATENCY_MS.value, stages=hflags.STAGES.value, stage_split=hflags.STAGE_SPLIT.value,
        epochs=common.EPOCHS.value, steps_per_epoch=common.STEPS_PER_EPOCH.value, batch_size=common.BATCH_SIZE.value,
        learning_rate=hflags.LEARNING_RATE.value, momentum=hflags.MOMENTUM.value,
        weight_decay=hflags.WEIGHT_DECAY.value, train_portion=hflags.TRAIN_PORTION.value,
        recalibration_batches=hflags.RECALIBRATION_BATCHES.value, eval_examples=hflags.EVAL_EXAMPLES.value,
        population_size=hflags.POPULATION_SIZE.value, generations=hflags.GENERATIONS.value,
        num_parents=hflags.NUM_PARENTS.value, num_mutations=hflags.NUM_MUTATIONS.value,
        num_crossovers=hflags.NUM_CROSSOVERS.value, mutation_prob=hflags.MUTATION_PROB.value, seed=common.SEED.value)


def prepare_output_dir(output_dir: str, fresh: bool, config: dict[str, Any]) -> None:
    """Create output_dir; with --fresh move what it holds aside; refuse to resume a different search."""
    if fresh and os.path.isdir(output_dir) and os.listdir(output_dir):
        aside = os.path.join(output_dir, f"previous-{time.strftime('%Y%m%d-%H%M%S')}")
        os.makedirs(aside)
        for name in os.listdir(output_dir):
            if not name.startswith("previous-"):
                shutil.move(os.path.join(output_dir, name), os.path.join(aside, name))
        logging.info("moved the previous search to %s", aside)
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, CONFIG_FILE)
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        if previous != config:
            changed = sorted(k for k in set(previous) | set(config) if previous.get(k) != config.get(k))
            raise ConfigError(f"--output_dir={output_dir} holds a search with different settings ({', '.join(changed)}); "
                             "re-run with the same flags to resume, or pass --fresh (the old search is moved aside) "
                              "or another --output_dir")
    else:
        write_json(path, config)




def run(output_dir: str) -> dict[str, Any]:
    import tensorflow as tf

    from tfnas import data as data_lib
    from tfnas.hardware import latency_table, space_generation
    from tfnas.methods import hurricane as method
    from tfnas.spaces import hurricane
    from tfnas.spaces.base import save_genotype

    if not hflags.DEVICE_TABLE.value:
        raise latency_table.LatencyTableError(
            "pass --device_table=<table.json>; build one with: python -m binaries.profile_latency --build_table "
            f"--space=hurricane --resolution={hardware.RESOLUTION.value} "
            f"--width_multiplier={hardware.WIDTH_MULTIPLIER.value} --output=<table.json>")
    if hflags.MAX_LATENCY_MS.value is None or hflags.MAX_LATENCY_MS.value <= 0:
        raise method.HurricaneError("pass --max_latency_ms=<limit in ms>, a positive number")
    settings = settings_from_flags()
    table_path = hflags.DEVICE_TABLE.value
    # Fail fast on a bad table or an infeasible limit, before any data is loaded or anything is written.
    table = latency_table.LatencyTable.load(table_path)
    data = data_lib.load_image_data(common.DATASET.value, common.DATA_DIR.value, image_size=hardware.RESOLUTION.value)
    config = hurricane.HurricaneConfig(hardware.RESOLUTION.value, hardware.WIDTH_MULTIPLIER.value,
                                       data.image_shape[-1], data.num_classes)
    table.check_geometry(config, table_path)
    generated = space_generation.generate_space(table, hflags.TOP_K.value, latency_weight=hflags.LATENCY_WEIGHT.value)
    table.check_complete(generated.candidates)
    fastest = method.check_limit(table, generated.candidates, settings.max_latency_ms)

    run_config = {"method": "hurricane", "dataset": common.DATASET.value, "device_table": os.path.abspath(table_path),
                  "resolution": config.resolution, "width_multiplier": config.width_multiplier,
                  "top_k": hflags.TOP_K.value, "latency_weight": hflags.LATENCY_WEIGHT.value,
                  "settings": settings.to_json()}
    prepare_output_dir(output_dir, common.FRESH.value, run_config)
    space_path = os.path.join(output_dir, "generated_space.json")
    if not os.path.exists(space_path):
        write_json(space_path, generated.to_json())
    logging.info("hardware-aware space for %s (%d threads), top-%d per layer:\n%s", table.device.get("cpu_model"),
                 table.num_threads, generated.top_k, generated.summary())

    writer = tf.summary.create_file_writer(os.path.join(output_dir, "tensorboard", "search"))
    offsets = {"spos": 0, "stage1": 0, "stage2": settings.population_size * settings.generations}
    best_so_far: dict[str, float] = {}

    def on_result(stage: str, n: int, arch: dict, metrics: dict) -> None:
        step = offsets.get(stage, 0) + n
        best_so_far[stage] = max(best_so_far.get(stage, 0.0), metrics["accuracy"])
        with writer.as_default():
            tf.summary.scalar("candidate/accuracy", metrics["accuracy"], step=step)
            tf.summary.scalar("candidate/predicted_latency_ms", metrics["predicted_latency_ms"], step=step)
            tf.summary.scalar(f"{stage}/best_accuracy", best_so_far[stage], step=step)
        writer.flush()
        logging.info("%s candidate %d: accuracy %.4f, predicted %.3f ms", stage, n, metrics["accuracy"],
                     metrics["predicted_latency_ms"])

    start = time.perf_counter()
    results, supernet = method.search(generated, table, config, settings, data, output_dir, on_result=on_result,
                                      verbose=common.VERBOSE.value)
    best = results[-1]
    genotype = hurricane.HurricaneGenotype(best.best_ops, config.resolution, config.width_multiplier)
    save_genotype(genotype, os.path.join(output_dir, "genotype.json"))

    measured_path = os.path.join(output_dir, "measured_latency.json")
    measured = None
    if hflags.MEASURE_BEST.value:
        if os.path.exists(measured_path):
            with open(measured_path) as f:
                measured = json.load(f)
        else:
            measured = latency_table.measure_architecture(
                genotype, config.num_classes, config.input_channels, num_threads=table.num_threads,
                num_runs=hardware.NUM_RUNS.value, warmup_runs=hardware.WARMUP_RUNS.value).to_json()
            write_json(measured_path, measured)
    statistic = table.measurement.get("statistic", "median")
    summary = {
        "method": "hurricane", "space": hurricane.SPACE, "seed": settings.seed, "dataset": common.DATASET.value,
        "wall_time_s": time.perf_counter() - start,
        "training_time_s": sum(r.train_seconds for r in results),
        "device_table": {"path": os.path.abspath(table_path), "device": table.device, "num_threads": table.num_threads,
                         "statistic": statistic},
        "max_latency_ms": settings.max_latency_ms, "fastest_possible_ms": fastest,
        "best": {"genotype": genotype.to_json(), "predicted_latency_ms": best.predicted_latency_ms,
                 "measured_latency_ms": None if measured is None else measured[f"{statistic}_ms"],
                 "measured": measured, "accuracy": best.accuracy},
        "stages": [{k: v for k, v in r.to_json().items() if k != "history"} for r in results],
        "history": [h for r in results for h in r.history],
        "settings": settings.to_json(),
    }
    write_json(os.path.join(output_dir, "search_summary.json"), summary)
    with writer.as_default():
        tf.summary.text("best/genotype", json.dumps(genotype.to_json()), step=0)
    writer.flush()
    return summary


def main(argv: list[str]) -> None:
    del argv
    if not common.OUTPUT_DIR.value:
        sys.exit("search_hurricane: pass --output_dir=<dir> (re-running with the same directory resumes)")
    if common.DISTRIBUTION.value != "default":
        sys.exit("search_hurricane: only --distribution=default is supported (the single-path supernet's "
                 "sampled paths are replica-consistent, but multi-device runs are not tested here)")
    with exit_on_user_error():
        summary = run(common.OUTPUT_DIR.value)
    best = summary["best"]
    print(json.dumps({"genotype": best["genotype"]["ops"], "accuracy": best["accuracy"],
                      "predicted_latency_ms": best["predicted_latency_ms"],
                      "measured_latency_ms": best["measured_latency_ms"], "training_time_s": summary["training_time_s"],
                      "output_dir": common.OUTPUT_DIR.value}, indent=2))


if __name__ == "__main__":
    app.run(main)
