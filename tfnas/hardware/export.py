"""Keras -> TFLite export (float and full-integer int8) and a LiteRT runner to check the result.

Every exported model has a fixed batch-1 input signature: that is how an on-device model is
invoked, and it lets the converter fold shapes so the latency measured later is the deployed
model's. Formats live in a small registry (``FORMATS``) so other exporters (e.g. the Larq
Compute Engine converter for binary networks) plug in with ``register_format`` without this
module knowing about them.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Iterable

import numpy as np
import tensorflow as tf
from tfnas.errors import UserInputError
from tfnas.files import write_bytes

keras = tf.keras


class ExportError(UserInputError):
    """An export request that cannot be carried out (bad format, missing calibration data, ...)."""


Converter = Callable[[keras.Model, "np.ndarray | None"], bytes]
TensorDetails = Callable[[bytes], "tuple[list[dict[str, Any]], list[dict[str, Any]]]"]
Report = Callable[[keras.Model, bytes], "dict[str, Any]"]


@dataclasses.dataclass(frozen=True)
class ExportFormat:
    """How to turn a Keras model into a flatbuffer, and what the conversion needs."""

    name: str
    convert: Converter
    needs_representative_data: bool = False
    description: str = ""
    details: TensorDetails | None = None
    """Input/output tensors of a converted flatbuffer (default: LiteRT's interpreter; formats with
    custom ops, such as LCE's, bring their own)."""
    report: Report | None = None
    """Extra facts about the export (e.g. binary MACs, operator counts) merged into the result."""


FORMATS: dict[str, ExportFormat] = {}


def register_format(fmt: ExportFormat) -> None:
    """Make ``fmt`` available to ``export_tflite`` and ``binaries.export --format``."""
    FORMATS[fmt.name] = fmt


def batch1_concrete_function(model: keras.Model) -> tf.types.experimental.ConcreteFunction:
    """The model's inference function traced at batch size 1 (BN in inference mode)."""
    if len(model.inputs) != 1:
        raise ExportError(f"export needs a single-input model; {model.name!r} has {len(model.inputs)} inputs")
    shape = model.inputs[0].shape
    if any(d is None for d in shape[1:]):
        raise ExportError(f"model {model.name!r} has input shape {tuple(shape)}; build it with a fixed image size "
                          "(every dimension but the batch known) before exporting")
    spec = tf.TensorSpec([1, *shape[1:]], model.inputs[0].dtype, name="input")
    fn = tf.function(lambda x: model(x, training=False))
    return fn.get_concrete_function(spec)


def _float_converter(model: keras.Model) -> tf.lite.TFLiteConverter:
    """A converter for the model's batch-1 function with its variables frozen into constants.

    Handing the converter the Keras model instead makes it save a SavedModel first, which traces
    every layer's call for serialization: 45 s instead of 9 s for a 20-layer HURRICANE network and
    70 s instead of 6 s for a model of 42 ops. Freezing is what the converter does internally anyway.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(batch1_concrete_function(model))
    return tf.lite.TFLiteConverter.from_concrete_functions([frozen])


def convert_float(model: keras.Model, representative_images: np.ndarray | None = None) -> bytes:
    """Float32 TFLite flatbuffer (representative data unused)."""
    return _float_converter(model).convert()


def _representative_dataset(images: np.ndarray) -> Callable[[], Iterable[list[np.ndarray]]]:
    def gen():
        for i in range(len(images)):
            yield [images[i:i + 1].astype(np.float32)]
    return gen


def convert_int8(model: keras.Model, representative_images: np.ndarray | None = None) -> bytes:
    """Full-integer post-training quantization: int8 weights, activations, input and output.

    The activation ranges are calibrated on ``representative_images`` (normalised float images
    like the ones the model was trained on); without them the ranges would be guesses, so they
    are required.
    """
    if representative_images is None or len(representative_images) == 0:
        raise ExportError("int8 export needs representative images for calibration: pass representative_images "
                          "(e.g. tfnas.data.representative_images(data)) or --representative_dataset=<name>")
    images = np.asarray(representative_images, np.float32)
    expected = tuple(model.inputs[0].shape[1:])
    if images.shape[1:] != expected:
        raise ExportError(f"representative images have shape {images.shape[1:]}, the model expects {expected}; "
                          "use images of the model's input size (--image_size of the training run)")
    converter = _float_converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _representative_dataset(images)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


register_format(ExportFormat("tflite", convert_float, description="float32 TFLite"))
register_format(ExportFormat("int8", convert_int8, needs_representative_data=True,
                             description="full-integer int8 TFLite (post-training quantization)"))


def convert(model: keras.Model, fmt: str = "tflite", representative_images: np.ndarray | None = None) -> bytes:
    """The flatbuffer of ``model`` in format ``fmt`` (no file written)."""
    if fmt not in FORMATS:
        raise ExportError(f"unsupported export format {fmt!r}; supported: {sorted(FORMATS)}")
    spec = FORMATS[fmt]
    if spec.needs_representative_data and (representative_images is None or len(representative_images) == 0):
        raise ExportError(f"format {fmt!r} needs representative images for calibration: pass representative_images "
                          "(e.g. tfnas.data.representative_images(data)) or --representative_dataset=<name>")
    return spec.convert(model, representative_images)


def export_tflite(model: keras.Model, path: str, fmt: str = "tflite",
                  representative_images: np.ndarray | None = None) -> dict[str, Any]:
    """Convert ``model`` and write it to ``path`` atomically; return facts about the file.

    Returns ``{"path", "size_bytes", "format", "inputs", "outputs"}`` where inputs/outputs list
    each tensor's name, shape, dtype and (for int8) quantization scale and zero point.
    """
    data = convert(model, fmt, representative_images)
    write_bytes(path, data)
    spec = FORMATS[fmt]
    inputs, outputs = (spec.details or tensor_details)(data)
    facts = {"path": path, "size_bytes": len(data), "format": fmt, "inputs": inputs, "outputs": outputs}
    if spec.report is not None:
        facts.update(spec.report(model, data))
    return facts


# --- running an exported model ----------------------------------------------------------------
def _interpreter(model: str | bytes, num_threads: int = 1):
    from ai_edge_litert.interpreter import Interpreter  # imported late: only needed to run models

    if isinstance(model, (bytes, bytearray)):
        interp = Interpreter(model_content=bytes(model), num_threads=num_threads)
    else:
        if not os.path.exists(model):
            raise ExportError(f"TFLite model {model!r} does not exist; export one with binaries.export")
        interp = Interpreter(model_path=model, num_threads=num_threads)
    interp.allocate_tensors()
    return interp


def _describe(detail: dict[str, Any]) -> dict[str, Any]:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return {"name": detail["name"], "shape": [int(d) for d in detail["shape"]],
            "dtype": np.dtype(detail["dtype"]).name, "scale": float(scale), "zero_point": int(zero_point)}


def tensor_details(model: str | bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(inputs, outputs) of a .tflite file or flatbuffer as plain JSON-able dicts."""
    interp = _interpreter(model)
    return ([_describe(d) for d in interp.get_input_details()],
            [_describe(d) for d in interp.get_output_details()])


def quantize(x: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    """Float -> integer tensor with TFLite's affine scheme q = round(x / scale) + zero_point."""
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - zero_point) * scale


def run_tflite(model: str | bytes, inputs: np.ndarray, num_threads: int = 1) -> np.ndarray:
    """Run a single-input, single-output TFLite model on every example of ``inputs`` (batch-1 calls).

    ``inputs`` are float images [N, ...] as the Keras model takes them; for an int8 model they are
    quantized with the model's input scale/zero point and the int8 outputs dequantized, so the
    result is directly comparable to the Keras model's float outputs.
    """
    interp = _interpreter(model, num_threads)
    (inp,), outs = interp.get_input_details(), interp.get_output_details()
    if len(outs) != 1:
        raise ExportError(f"run_tflite expects one output tensor, the model has {len(outs)}")
    out = outs[0]
    inputs = np.asarray(inputs)
    expected = tuple(int(d) for d in inp["shape"][1:])
    if inputs.shape[1:] != expected:
        raise ExportError(f"inputs have example shape {inputs.shape[1:]}, the TFLite model expects {expected}")
    in_dtype = np.dtype(inp["dtype"])
    in_scale, in_zp = inp["quantization"]
    out_scale, out_zp = out["quantization"]
    results = []
    for i in range(len(inputs)):
        x = inputs[i:i + 1]
        if np.issubdtype(in_dtype, np.integer):
            x = quantize(x, in_dtype, in_scale, in_zp)
        else:
            x = x.astype(in_dtype)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        y = interp.get_tensor(out["index"])
        if np.issubdtype(y.dtype, np.integer):
            y = dequantize(y, out_scale, out_zp)
        results.append(np.array(y, np.float32))
    return np.concatenate(results, axis=0)
