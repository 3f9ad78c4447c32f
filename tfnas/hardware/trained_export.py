"""Export a trained model directory (what binaries.train writes) to TFLite, int8 TFLite or LCE.

The model is rebuilt from its genotype (tfnas/training/model_io.py) and handed to the format's
exporter (tfnas/hardware/export.py; LCE registers itself from tfnas/hardware/lce.py). Full-integer
int8 needs calibration images: by default the training images of the dataset the model was
trained on, read from the model directory's config.json.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from tfnas.files import read_json
from tfnas.hardware import export as export_lib


def _load_trained_model(model_dir: str):
    from tfnas.training.model_io import load_trained_model

    return load_trained_model(model_dir)


def read_model_config(model_dir: str) -> dict[str, Any]:
    """The training run's config.json ({} if there is none: then calibration data must be named)."""
    path = os.path.join(model_dir, "config.json")
    try:
        return read_json(path, {})
    except ValueError as e:
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
    """Load ``model_dir``, export it in ``fmt`` and return the written file's facts."""
    from tfnas.hardware import lce  # noqa: F401  (registers --format=lce)

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
