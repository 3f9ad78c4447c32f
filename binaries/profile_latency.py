"""Measure latency with LiteRT on this device: one .tflite model, or a space's operator latency table.

    python -m binaries.profile_latency --tflite=runs/train/model.tflite --num_threads=1 --output=lat.json
    python -m binaries.profile_latency --build_table --space=hurricane --resolution=32 --width_multiplier=1.0 \
        --num_threads=1 --output=tables/this_cpu_32px.json

--tflite prints JSON with median, p5, p10, p95, mean, std, min, max (ms), runs, threads, LiteRT
version and the device (CPU model, cores, machine); a binary model exported with --format=lce has
Larq Compute Engine's custom ops, which stock LiteRT cannot run, and is timed in LCE's interpreter
(its fast kernels are ARM ones: on x86 it runs portable code). --build_table measures every candidate op at
every layer position of the space as a one-op TFLite model (see tfnas/hardware/latency_table.py)
and writes the table after each position, so an interrupted build resumes when re-run.
"""
from __future__ import annotations

import tfnas  # noqa: F401  (Keras 2 switch, before TensorFlow)

import flags as flags_help

import json

from absl import app, logging

from flags import common, hardware, output_file
from flags import profile as profile_flags
from tfnas.hardware import litert
from tfnas.errors import ConfigError, exit_on_user_error
from tfnas.files import write_json

flags_help.show_in_help()


def profile_tflite(path: str) -> dict:
    return litert.measure_file_latency(path, num_threads=hardware.NUM_THREADS.value,
                                       num_runs=hardware.NUM_RUNS.value, warmup_runs=hardware.WARMUP_RUNS.value,
                                       method=hardware.LATENCY_METHOD.value)


def build_table() -> dict:
    from tfnas import data as data_lib
    from tfnas.hardware import latency_table
    from tfnas.spaces.layerwise import profile_for

    if not output_file.OUTPUT.value:
        raise latency_table.LatencyTableError("--build_table needs --output=<table.json> (re-running with the same "
                                              "file resumes an interrupted build)")
    channels, classes = profile_flags.INPUT_CHANNELS.value, profile_flags.NUM_CLASSES.value
    if channels is None or classes is None:
        ds_channels, ds_classes = data_lib.dataset_geometry(common.DATASET.value, common.DATA_DIR.value)
        channels = ds_channels if channels is None else channels
        classes = ds_classes if classes is None else classes
    profile = profile_for(profile_flags.SPACE.value, {"resolution": hardware.RESOLUTION.value,
                                                      "width_multiplier": hardware.WIDTH_MULTIPLIER.value,
                                                      "input_channels": channels, "num_classes": classes})
    flush = profile_flags.FLUSH_MB.value
    table = latency_table.build_table(
        profile, output_file.OUTPUT.value, ops=profile_flags.TABLE_OPS.value, num_threads=hardware.NUM_THREADS.value,
        num_runs=hardware.NUM_RUNS.value, warmup_runs=hardware.WARMUP_RUNS.value,
        statistic=profile_flags.TABLE_STATISTIC.value,
        flush_bytes=None if flush is None else [int(float(mb) * 2**20) for mb in flush],
        calibration_archs=profile_flags.CALIBRATION_ARCHS.value, log=logging.info)
    positions = {p.key() for p in table.positions}
    return {"table": output_file.OUTPUT.value, "space": table.space, "geometry": table.geometry,
            "num_threads": table.num_threads, "device": table.device, "litert_version": table.litert_version,
            "positions": len(positions), "entries": sum(len(v) for v in table.entries.values()),
            "fixed_overhead_ms": table.fixed_overhead_ms, "calibration": table.measurement.get("calibration")}


def main(argv: list[str]) -> None:
    del argv
    from tfnas.logs import quiet_tensorflow_logs

    quiet_tensorflow_logs()
    with exit_on_user_error():
        if profile_flags.BUILD_TABLE.value:
            result = build_table()
        elif profile_flags.TFLITE.value:
            result = profile_tflite(profile_flags.TFLITE.value)
            if output_file.OUTPUT.value:
                write_json(output_file.OUTPUT.value, result)
        else:
            raise ConfigError("pass --tflite=<model.tflite> (export one with binaries.export) or "
                              "--build_table --output=<table.json>")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    app.run(main)
