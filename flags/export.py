"""Flags of binaries.export: which trained model, which format, where calibration data comes from."""
from __future__ import annotations

from absl import flags

from flags import output_file  # noqa: F401  (--output)

MODEL = flags.DEFINE_string(
    "model", None, "Trained model directory written by binaries.train (holds the model and its config.json).")
FORMAT = flags.DEFINE_string(
    "format", "tflite", "Export format: tflite (float32), int8 (full-integer post-training quantization, "
    "calibrated on --num_calibration_images training images) or lce (Larq Compute Engine, for binary networks "
    "trained with binaries.train --binary: binary convolutions become LceBconv2d ops).")
REPRESENTATIVE_DATASET = flags.DEFINE_string(
    "representative_dataset", None, "Dataset whose training images calibrate int8 export (default: the dataset the "
    "model was trained on, from <model>/config.json).")
REPRESENTATIVE_DATA_DIR = flags.DEFINE_string(
    "representative_data_dir", None, "tfds data_dir of the calibration dataset (default: the training run's data_dir "
    "from <model>/config.json).")
NUM_CALIBRATION_IMAGES = flags.DEFINE_integer(
    "num_calibration_images", 200, "How many training images calibrate the int8 activation ranges.")
