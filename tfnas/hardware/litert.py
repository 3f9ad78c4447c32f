"""Measured latency of a .tflite model with LiteRT, plus the identity of the device it ran on.

Two ways to measure, both on LiteRT's CompiledModel API with the XNNPACK CPU path:

* ``method="in_process"`` (default): load the model once, warm up, then time every single
  invocation with ``time.perf_counter_ns``. Full-precision timings; this is what per-operator
  latency tables need, where one op can take a few microseconds.
* ``method="benchmark_tool"``: run LiteRT's own benchmark tool
  (``ai_edge_litert.tools.benchmark_litert_model``, the ``litert-benchmark`` CLI) in a
  subprocess and read its JSON. Independent confirmation, but its JSON rounds to 0.01 ms, too
  coarse for one-op models.

Both report median, p5/p95, mean, std, min/max, the thread count, LiteRT's version and the device
(CPU model, cores, machine), so a number is never separated from where it was measured.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
from tfnas.errors import UserInputError

METHODS = ("in_process", "benchmark_tool")


class LatencyError(UserInputError):
    """A latency measurement that could not be made (missing model, tool failure, bad settings)."""


@dataclasses.dataclass
class LatencyMeasurement:
    """Summary of ``num_runs`` timed invocations after ``warmup_runs`` untimed ones (milliseconds)."""

    model: str
    median_ms: float
    p5_ms: float
    p95_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    num_runs: int
    warmup_runs: int
    num_threads: int
    method: str
    litert_version: str
    device: dict[str, Any]
    p10_ms: float | None = None  # not reported by the benchmark tool

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def statistic(self, name: str) -> float:
        """The named statistic in ms: median, p10, p5, p95, mean or min."""
        value = {"median": self.median_ms, "p10": self.p10_ms, "p5": self.p5_ms, "p95": self.p95_ms,
                 "mean": self.mean_ms, "min": self.min_ms}.get(name)
        if value is None:
            raise LatencyError(f"statistic {name!r} is not available for a {self.method} measurement")
        return float(value)


def litert_version() -> str:
    from ai_edge_litert import __version__

    return str(__version__)


@functools.lru_cache(maxsize=1)
def device_identity() -> dict[str, Any]:
    """What the measurement ran on: CPU model (from /proc/cpuinfo), logical cores, machine, OS."""
    return {"cpu_model": _cpu_model(), "logical_cores": os.cpu_count(), "machine": platform.machine(),
            "system": f"{platform.system()} {platform.release()}"}


def _cpu_model() -> str:
    # x86 has "model name"; ARM boards (e.g. a Raspberry Pi) often only have "Model" or "Hardware".
    try:
        with open("/proc/cpuinfo") as f:
            fields: dict[str, str] = {}
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() not in fields:
                    fields[key.strip()] = value.strip()
    except OSError:
        fields = {}
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        if fields.get(key):
            return fields[key]
    return platform.processor() or "unknown"


def summarize(times_ms: np.ndarray | list[float]) -> dict[str, float]:
    """median / p5 / p10 / p95 / mean / std / min / max of per-run timings (linear-interpolated percentiles)."""
    t = np.asarray(times_ms, np.float64)
    if t.size == 0:
        raise LatencyError("no timed runs to summarise; use num_runs >= 1")
    return {"median_ms": float(np.median(t)), "p5_ms": float(np.percentile(t, 5)), "p10_ms": float(np.percentile(t, 10)),
            "p95_ms": float(np.percentile(t, 95)), "mean_ms": float(t.mean()),
            "std_ms": float(t.std(ddof=1)) if t.size > 1 else 0.0, "min_ms": float(t.min()), "max_ms": float(t.max())}


# --- in-process measurement ---------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _environment():
    """One LiteRT environment per process: creating it registers accelerators, which is slow."""
    from ai_edge_litert.environment import Environment, EnvironmentOptions
    from ai_edge_litert import compiled_model

    return Environment.create(options=EnvironmentOptions(
        runtime_path=os.path.dirname(os.path.abspath(compiled_model.__file__))))


TFLITE_IDENTIFIER = b"TFL3"
"""The flatbuffer file identifier (bytes 4-8) of every TFLite model."""


def check_tflite(data: bytes, source: str = "the model") -> None:
    """A clear error for data that is not a TFLite flatbuffer (checked before LiteRT sees it)."""
    if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
        raise LatencyError(f"{source} is not a TFLite model (no {TFLITE_IDENTIFIER.decode()} flatbuffer identifier); "
                           "pass a .tflite file written by binaries.export")


def check_tflite_file(path: str) -> None:
    if not os.path.exists(path):
        raise LatencyError(f"TFLite model {path!r} does not exist; export one first (binaries.export)")
    if os.path.isdir(path):
        raise LatencyError(f"--tflite={path} is a directory; pass the .tflite file written by binaries.export")
    with open(path, "rb") as f:
        check_tflite(f.read(8), path)


class CompiledRunner:
    """A loaded LiteRT CompiledModel (CPU, ``num_threads``) with its buffers filled with random data.

    ``run(n)`` invokes the model ``n`` times back to back; the latency table uses it to time
    tiny models, so the Python call path per invocation is kept to one wrapped C++ call.
    """

    def __init__(self, model: str | bytes, num_threads: int = 1, seed: int = 0):
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        from ai_edge_litert.options import CpuOptions, Options

        if num_threads < 1:
            raise LatencyError(f"num_threads must be >= 1, got {num_threads}")
        options = Options(hardware_accelerators=HardwareAccelerator.CPU,
                          cpu_options=CpuOptions(num_threads=num_threads))
        if isinstance(model, (bytes, bytearray)):
            self._data = bytes(model)  # LiteRT may read the flatbuffer in place: keep it alive with the model
            check_tflite(self._data)
            self.model = CompiledModel.from_buffer(self._data, environment=_environment(), options=options)
        else:
            check_tflite_file(model)
            self.model = CompiledModel.from_file(model, environment=_environment(), options=options)
        signature = list(self.model.get_signature_list())[0]
        self.inputs = self.model.create_input_buffers(0)
        self.outputs = self.model.create_output_buffers(0)
        rng = np.random.default_rng(seed)
        for buffer, detail in zip(self.inputs, self.model.get_input_tensor_details(signature).values()):
            buffer.write(_random_input(detail, rng))
        # Bind the wrapped C++ call and capsules once: the timed loop then adds almost nothing.
        self._run = self.model._model.RunByIndex
        self._in = [b.capsule for b in self.inputs]
        self._out = [b.capsule for b in self.outputs]

    def run(self, n: int = 1) -> None:
        run, ins, outs = self._run, self._in, self._out
        for _ in range(n):
            run(0, ins, outs)

    def time_runs(self, num_runs: int, invokes_per_run: int = 1) -> np.ndarray:
        """Milliseconds per invocation for each of ``num_runs`` samples of ``invokes_per_run`` invokes."""
        run, ins, outs = self._run, self._in, self._out
        times = np.empty(num_runs, np.float64)
        clock = time.perf_counter_ns
        for i in range(num_runs):
            t0 = clock()
            for _ in range(invokes_per_run):
                run(0, ins, outs)
            times[i] = (clock() - t0) / invokes_per_run
        return times / 1e6

    def close(self) -> None:
        self.model.close()


def _random_input(detail: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    dtype = np.dtype(detail.get("dtype", "float32"))
    shape = detail.get("shape", [1])
    if np.issubdtype(dtype, np.floating):
        return rng.uniform(-1.0, 1.0, shape).astype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -128), min(info.max, 127) + 1, shape).astype(dtype)
    return np.zeros(shape, dtype)


def _model_name(model: str | bytes) -> str:
    return "<in-memory flatbuffer>" if isinstance(model, (bytes, bytearray)) else str(model)


def measure_latency(model: str | bytes, num_threads: int = 1, num_runs: int = 100, warmup_runs: int = 10,
                    method: str = "in_process") -> LatencyMeasurement:
    """LiteRT latency of a .tflite file (or flatbuffer bytes): warm-up, then ``num_runs`` timed runs."""
    if method not in METHODS:
        raise LatencyError(f"unknown latency method {method!r}; use one of {list(METHODS)}")
    if num_runs < 1 or warmup_runs < 0:
        raise LatencyError(f"need num_runs >= 1 and warmup_runs >= 0, got {num_runs} and {warmup_runs}")
    if method == "benchmark_tool":
        return _measure_with_benchmark_tool(model, num_threads, num_runs, warmup_runs)
    runner = CompiledRunner(model, num_threads)
    try:
        runner.run(warmup_runs)
        times = runner.time_runs(num_runs)
    finally:
        runner.close()
    return LatencyMeasurement(model=_model_name(model), **summarize(times), num_runs=num_runs,
                              warmup_runs=warmup_runs, num_threads=num_threads, method=method,
                              litert_version=litert_version(), device=device_identity())


LCE_CUSTOM_OPS = (b"LceBconv2d", b"LceQuantize", b"LceDequantize")


def uses_lce_ops(flatbuffer: bytes) -> bool:
    """Whether a .tflite flatbuffer uses Larq Compute Engine's custom ops (their names are plain strings in its
    operator codes): stock LiteRT cannot allocate such a model (``binaries.export --format=lce``); LCE's own
    interpreter runs it."""
    return any(op in flatbuffer for op in LCE_CUSTOM_OPS)


def measure_file_latency(path: str, num_threads: int = 1, num_runs: int = 100, warmup_runs: int = 10,
                         method: str = "in_process") -> dict[str, Any]:
    """The latency JSON of a .tflite file: LiteRT's, or LCE's interpreter's for a model with LCE ops."""
    check_tflite_file(path)
    with open(path, "rb") as f:
        flatbuffer = f.read()
    if uses_lce_ops(flatbuffer):
        from tfnas.hardware.lce import measure_lce_latency  # imports TensorFlow: only LCE models need it

        return {"model": path, **measure_lce_latency(flatbuffer, num_threads, num_runs, warmup_runs),
                "warmup_runs": warmup_runs}
    return measure_latency(path, num_threads=num_threads, num_runs=num_runs, warmup_runs=warmup_runs,
                           method=method).to_json()


# --- LiteRT's benchmark tool -------------------------------------------------------------------
def _measure_with_benchmark_tool(model: str | bytes, num_threads: int, num_runs: int,
                                 warmup_runs: int) -> LatencyMeasurement:
    with tempfile.TemporaryDirectory() as tmp:
        path = model
        if isinstance(model, (bytes, bytearray)):
            path = os.path.join(tmp, "model.tflite")
            with open(path, "wb") as f:
                f.write(model)
        else:
            check_tflite_file(model)
        result_path = os.path.join(tmp, "result.json")
        cmd = [sys.executable, "-m", "ai_edge_litert.tools.benchmark_litert_model", f"--model={path}",
               f"--num_runs={num_runs}", f"--warmup_runs={warmup_runs}", f"--num_threads={num_threads}",
               f"--result_json={result_path}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(result_path):
            tail = (proc.stderr or proc.stdout)[-2000:]
            raise LatencyError(f"LiteRT benchmark tool failed on {_model_name(model)} (exit {proc.returncode}):\n{tail}")
        with open(result_path) as f:
            latency = json.load(f)["latency"]
    return LatencyMeasurement(
        model=_model_name(model), median_ms=latency["median_ms"], p5_ms=latency["p5_ms"], p95_ms=latency["p95_ms"],
        mean_ms=latency["avg_ms"], std_ms=latency["std_ms"], min_ms=latency["min_ms"], max_ms=latency["max_ms"],
        num_runs=int(latency["num_runs"]), warmup_runs=int(latency["num_warmup_runs"]), num_threads=num_threads,
        method="benchmark_tool", litert_version=litert_version(), device=device_identity())
