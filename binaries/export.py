"""Export a trained model directory to TFLite (float32), full-integer int8 TFLite, or LCE (binary).

    python -m binaries.export --model=runs/train --format=int8 --output=runs/train/model_int8.tflite
    python -m binaries.export --model=runs/bats_train/model --format=lce     # binary networks

Prints (and returns) the facts of the written file as JSON: path, size, format, input/output
tensors with their quantization parameters; for lce also binary and real MACs (BOPs), LCE
operator counts and Larq's model summary (printed as a table first).
"""
from __future__ import annotations

import tfnas  # noqa: F401  (Keras 2 switch, before TensorFlow)

import json
import os
from typing import Any, Callable

from absl import app

from flags import export as export_flags
from flags import output_file
from tfnas.hardware import export as export_lib
from tfnas.hardware import lce  # noqa: F401  (registers --format=lce)
from tfnas.errors import exit_on_user_error


def _load_trained_model(model_dir: str):
    # Imported lazily: the training package is only needed when a model directory is exported.
    from tfnas.training.model_io import load_trained_model

    return load_trained_model(model_dir)


def read_model_config(model_dir: str) -> dict[str, Any]:
    """The training run's config.json ({} if there is none: then calibration data must be named)."""
    path = os.path.join(model_dir, "config.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise export_lib.ExportError(f"{path} is not valid JSON ({e}); re-run binaries.train or pass "
                                         "--representative_dataset") from None


def calibration_images(model_dir: str, count: int, dataset: str | None = None, data_dir: str | None = None):
    """Normalised training images of the model's dataset (or ``dataset``) at the model's image size."""
    from tfnas import data as data_lib

    config = read_model_config(model_dir)
    name = dataset or config.get("dataset")
    if not name:
        raise export_lib.ExportError(
            f"int8 export needs calibration images but {model_dir}/config.json names no dataset; "
            "pass --representative_dataset=<dataset the model was trained on>")
    data = data_lib.load_image_data(name, data_dir or config.get("data_dir"), config.get("image_size"))
    return data_lib.representative_images(data, count)


def export_model_dir(model_dir: str, fmt: str = "tflite", output: str | None = None,
                     representative_dataset: str | None = None, representative_data_dir: str | None = None,
                     num_calibration_images: int = 200,
                     load_model: Callable[[str], Any] = _load_trained_model) -> dict[str, Any]:
    """Load ``model_dir``, export it in ``fmt`` and return the file's facts."""
    if not model_dir or not os.path.isdir(model_dir):
        raise export_lib.ExportError(f"--model={model_dir!r} is not a directory; pass the output_dir of binaries.train")
    if fmt not in export_lib.FORMATS:
        raise export_lib.ExportError(f"unsupported --format={fmt!r}; supported: {sorted(export_lib.FORMATS)}")
    model = load_model(model_dir)
    images = None
    if export_lib.FORMATS[fmt].needs_representative_data:
        images = calibration_images(model_dir, num_calibration_images, representative_dataset,
                                    representative_data_dir)
    if output is None:
        output = os.path.join(model_dir, "model.tflite" if fmt == "tflite" else f"model_{fmt}.tflite")
    return export_lib.export_tflite(model, output, fmt, images)


def main(argv: list[str]) -> None:
    del argv
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
