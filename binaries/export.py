"""Export a trained model directory to TFLite (float32), full-integer int8 TFLite, or LCE (binary).

    python -m binaries.export --model=runs/train/model --format=int8 --output=runs/train/model_int8.tflite
    python -m binaries.export --model=runs/bats_train/model --format=lce     # binary networks

Prints the facts of the written file as JSON (tfnas.hardware.trained_export.export_model_dir):
path, size, format, input/output tensors with their quantization parameters; for lce also binary
and real MACs (BOPs), LCE operator counts and Larq's model summary (printed as a table first).
"""
from __future__ import annotations

import tfnas  # noqa: F401  (Keras 2 switch, before TensorFlow)

import flags as flags_help

import json

from absl import app

from flags import export as export_flags
from flags import output_file
from tfnas.errors import exit_on_user_error

flags_help.show_in_help()


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from tfnas.logs import quiet_tensorflow_logs

    quiet_tensorflow_logs()
    from tfnas.hardware.trained_export import export_model_dir

    with exit_on_user_error():
        facts = export_model_dir(export_flags.MODEL.value, export_flags.FORMAT.value, output_file.OUTPUT.value,
                                 export_flags.REPRESENTATIVE_DATASET.value,
                                 export_flags.REPRESENTATIVE_DATA_DIR.value,
                                 export_flags.NUM_CALIBRATION_IMAGES.value)
    summary = facts.pop("larq_summary", None)
    if summary:
        print(summary)
    print(json.dumps(facts, indent=2))


if __name__ == "__main__":
    app.run(main)
