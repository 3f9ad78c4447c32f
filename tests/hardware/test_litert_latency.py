"""LiteRT latency: positive, ordered percentiles, device identity; both measurement methods; the binary."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import tfnas  # noqa: F401
import tensorflow as tf

from tfnas.hardware import export, litert

keras = tf.keras
REPO = __file__.rsplit("/tests/", 1)[0]


@pytest.fixture(scope="module")
def tflite_path(tmp_path_factory):
    tf.keras.utils.set_random_seed(0)
    inp = keras.Input((56, 56, 16))
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = str(tmp_path_factory.mktemp("lat") / "conv.tflite")
    export.export_tflite(keras.Model(inp, keras.layers.Dense(10)(x)), path)
    return path


def test_in_process_latency_is_positive_and_ordered(tflite_path):
    m = litert.measure_latency(tflite_path, num_threads=1, num_runs=30, warmup_runs=3)
    assert 0 < m.min_ms <= m.p5_ms <= m.median_ms <= m.p95_ms <= m.max_ms
    assert m.num_runs == 30 and m.num_threads == 1 and m.method == "in_process"
    facts = m.to_json()
    assert facts["litert_version"] and facts["device"]["cpu_model"] and facts["device"]["logical_cores"] >= 1
    json.dumps(facts)


def test_benchmark_tool_agrees_roughly_with_in_process(tflite_path):
    tool = litert.measure_latency(tflite_path, num_runs=30, warmup_runs=3, method="benchmark_tool")
    mine = litert.measure_latency(tflite_path, num_runs=30, warmup_runs=3)
    assert tool.median_ms > 0 and tool.p5_ms <= tool.median_ms <= tool.p95_ms
    assert 0.33 < tool.median_ms / mine.median_ms < 3.0


def test_missing_model_and_bad_method_are_named(tmp_path):
    with pytest.raises(litert.LatencyError, match="does not exist"):
        litert.measure_latency(str(tmp_path / "none.tflite"))
    with pytest.raises(litert.LatencyError, match="unknown latency method"):
        litert.measure_latency(str(tmp_path / "none.tflite"), method="stopwatch")


def test_profile_latency_binary_writes_json(tflite_path, tmp_path):
    out = tmp_path / "lat.json"
    proc = subprocess.run([sys.executable, "-m", "binaries.profile_latency", f"--tflite={tflite_path}",
                           "--num_runs=20", "--warmup_runs=2", f"--output={out}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["median_ms"] > 0 and result["p5_ms"] <= result["median_ms"] <= result["p95_ms"]
    assert result["num_threads"] == 1
