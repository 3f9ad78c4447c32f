"""Larq Compute Engine export of binary networks (``--format=lce``), its interpreter and its report.

``convert_lce`` runs ``larq_compute_engine.convert_saved_model`` on the model's batch-1 inference
function (saved alone, see ``save_inference_function``): every Larq convolution whose
inputs and weights are binary becomes an ``LceBconv2d`` op with bit-packed weights (grouped ones
only with a multiple of 32 input channels per group), its sign becomes ``LceQuantize``. A model
without binary layers is refused: LCE would only produce a float model under another name.

The LCE flatbuffer has custom ops, so it runs in LCE's own interpreter, not in stock LiteRT.
Grouped binary convolutions need LCE's indirect-BGEMM kernel (the default kernel fails with
"Grouped binary convolutions are not supported with this kernel"), so the interpreter here always
selects it. LCE's fast kernels are ARM (aarch64) ones: on x86 it runs portable code, and binary
models are *slower* there than the float model under LiteRT/XNNPACK; the latency helper reports
the machine it ran on so nobody mistakes an x86 number for a device number.
"""
from __future__ import annotations

import collections
import platform
import tempfile
import time
from typing import Any

import numpy as np
import tensorflow as tf

from tfnas.hardware.export import ExportError, ExportFormat, batch1_concrete_function, register_format

keras = tf.keras

BINARY_OPS = ("LceBconv2d",)
FLOAT_CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


class NotABinaryModel(ExportError):
    """LCE export was asked for a model without binary layers."""


def binary_layer_count(model: keras.Model) -> int:
    from tfnas.ops.binary_ops import binary_layers

    return len(binary_layers(model))


def save_inference_function(model: keras.Model, directory: str) -> None:
    """A SavedModel holding only the model's batch-1 inference function and its variables.

    ``larq_compute_engine.convert_keras_model`` saves the Keras model first, and Keras' SavedModel
    traces every layer's call for serialization: in the tutorial's BATS export that was 13 of the
    conversion's 15 s. One traced function is all the converter reads (the serving signature).
    """
    module = tf.Module()
    module.weights = list(model.variables)  # what the function captures, tracked so that it is saved
    tf.saved_model.save(module, directory, signatures={"serving_default": batch1_concrete_function(model)})


def convert_lce(model: keras.Model, representative_images: np.ndarray | None = None) -> bytes:
    """LCE flatbuffer of a binary Keras/Larq model (representative data unused)."""
    if binary_layer_count(model) == 0:
        raise NotABinaryModel(
            f"model {model.name!r} has no binary layer (no Larq conv with binary inputs and weights), so --format=lce "
            "has nothing to convert; train a binary network (binaries.train --binary) or export this one with "
            "--format=tflite or --format=int8")
    import larq_compute_engine as lce

    with tempfile.TemporaryDirectory() as directory:
        save_inference_function(model, directory)
        return lce.convert_saved_model(directory)


# --- flatbuffer inspection --------------------------------------------------------------------
def operator_counts(flatbuffer: bytes) -> dict[str, int]:
    """How many operators of each kind the (first) subgraph of a .tflite flatbuffer has.

    Builtin ops by their schema name (CONV_2D, ...), custom ops by their custom code (LceBconv2d, ...).
    """
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        if oc.CustomCode():
            codes.append(oc.CustomCode().decode())
        else:
            codes.append(names.get(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()), "UNKNOWN"))
    graph = model.Subgraphs(0)
    return dict(collections.Counter(codes[graph.Operators(i).OpcodeIndex()] for i in range(graph.OperatorsLength())))


# --- running ------------------------------------------------------------------------------------
def lce_interpreter(flatbuffer: bytes, num_threads: int = 1):
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    return Interpreter(bytes(flatbuffer), num_threads=num_threads, use_indirect_bgemm=True)


def lce_tensor_details(flatbuffer: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(inputs, outputs) of an LCE flatbuffer, in the shape tfnas.hardware.export reports them."""
    interp = lce_interpreter(flatbuffer)

    def describe(kind: str, shapes, types) -> list[dict[str, Any]]:
        return [{"name": f"{kind}_{i}", "shape": [int(d) for d in shape], "dtype": np.dtype(t).name,
                 "scale": 0.0, "zero_point": 0} for i, (shape, t) in enumerate(zip(shapes, types))]

    return (describe("input", interp.input_shapes, interp.input_types),
            describe("output", interp.output_shapes, interp.output_types))


def run_lce(flatbuffer: bytes, images: np.ndarray, num_threads: int = 1) -> np.ndarray:
    """Outputs of an LCE model on float images [N, H, W, C] (one invocation per image)."""
    return np.asarray(lce_interpreter(flatbuffer, num_threads).predict(np.asarray(images, np.float32)))


def measure_lce_latency(flatbuffer: bytes, num_threads: int = 1, num_runs: int = 50, warmup_runs: int = 5,
                        seed: int = 0) -> dict[str, Any]:
    """Per-invocation latency of an LCE model in LCE's Python interpreter, with the machine it ran on."""
    from tfnas.hardware.litert import device_identity, summarize

    interp = lce_interpreter(flatbuffer, num_threads)
    shape = interp.input_shapes[0]
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    for _ in range(warmup_runs):
        interp.predict(x)
    times = []
    for _ in range(num_runs):
        t0 = time.perf_counter_ns()
        interp.predict(x)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    return {**summarize(times), "num_runs": num_runs, "num_threads": num_threads, "runtime": "larq_compute_engine",
            "kernel": "indirect_bgemm", "arm_optimized": platform.machine().lower() in ("aarch64", "arm64"),
            "device": device_identity()}


# --- report ---------------------------------------------------------------------------------------
def binary_macs(model: keras.Model) -> dict[str, int]:
    """Binary and real multiply-accumulates per image, from Larq's model profile.

    BOPs (binary operations) = binary MACs; the usual combined figure is OPs = real MACs + BOPs / 64.
    """
    import larq as lq

    profile = lq.models.ModelProfile(model)
    binary, real = int(profile.op_count("mac", 1)), int(profile.op_count("mac", 32))
    return {"binary_macs": binary, "bops": binary, "real_macs": real, "ops": int(real + binary / 64)}


def larq_summary(model: keras.Model) -> str:
    import larq as lq

    lines: list[str] = []
    lq.models.summary(model, print_fn=lines.append)
    return "\n".join(lines)


def binary_report(model: keras.Model, flatbuffer: bytes) -> dict[str, Any]:
    """Facts an LCE export adds: MACs/BOPs, binary layers vs LCE binary ops, operator counts, Larq summary."""
    ops = operator_counts(flatbuffer)
    return {
        **binary_macs(model),
        "binary_layers": binary_layer_count(model),
        "lce_binary_ops": sum(ops.get(name, 0) for name in BINARY_OPS),
        "float_conv_ops": sum(ops.get(name, 0) for name in FLOAT_CONV_OPS),
        "operators": ops,
        "larq_summary": larq_summary(model),
    }


register_format(ExportFormat(
    "lce", convert_lce, details=lce_tensor_details, report=binary_report,
    description="Larq Compute Engine TFLite: binary convolutions as LceBconv2d with bit-packed weights"))
