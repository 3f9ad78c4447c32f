"""Device latency tables: JSON round trip, clear refusals, a real (tiny) build that resumes, prediction."""
from __future__ import annotations

import json

import numpy as np
import pytest

import tfnas  # noqa: F401

from tfnas.hardware import latency_table as lt
from tfnas.spaces import hurricane

CONFIG = hurricane.HurricaneConfig(32, 0.25, input_channels=1, num_classes=10)
OPS = ("mbconv_k3_e1", "shufflenet_k3")


def _table(scale: float = 1.0) -> lt.LatencyTable:
    return lt.LatencyTable.from_function(
        CONFIG, lambda p, op: scale * (0.01 + 0.001 * hurricane.OPS.index(op) + 1e-5 * p.out_channels), fixed_ms=0.05)


def test_table_round_trips_through_json(tmp_path):
    table = _table()
    path = str(tmp_path / "table.json")
    table.save(path)
    loaded = lt.LatencyTable.load(path, CONFIG)
    ops = hurricane.random_genotype(np.random.default_rng(0), 32, 0.25).ops
    assert loaded.predict(ops) == pytest.approx(table.predict(ops))
    assert loaded.to_json() == table.to_json()
    assert table.predict(ops) == pytest.approx(0.05 + sum(table.op_latency(i, op) for i, op in enumerate(ops)))


def test_missing_table_says_how_to_build_one(tmp_path):
    with pytest.raises(lt.LatencyTableError, match="--build_table.*--resolution=32.*--width_multiplier=0.25"):
        lt.LatencyTable.load(str(tmp_path / "none.json"), CONFIG)


def test_table_for_another_geometry_is_refused(tmp_path):
    path = str(tmp_path / "table.json")
    _table().save(path)
    with pytest.raises(lt.LatencyTableError, match="resolution 32 \\(asked for 64\\)"):
        lt.LatencyTable.load(path, hurricane.HurricaneConfig(64, 0.25, 1, 10))
    with pytest.raises(lt.LatencyTableError, match="width_multiplier 0.25 \\(asked for 0.5\\)"):
        lt.LatencyTable.load(path, hurricane.HurricaneConfig(32, 0.5, 1, 10))


def test_malformed_tables_are_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(lt.LatencyTableError, match="not valid JSON"):
        lt.LatencyTable.load(str(bad))
    data = _table().to_json()
    key = next(iter(data["entries"]))
    data["entries"][key]["conv_9x9"] = 1.0
    bad.write_text(json.dumps(data))
    with pytest.raises(lt.LatencyTableError, match="conv_9x9.*not in the vocabulary"):
        lt.LatencyTable.load(str(bad))
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(lt.LatencyTableError, match="not a tfnas latency table"):
        lt.LatencyTable.load(str(bad))


def test_missing_op_entry_is_named():
    table = lt.LatencyTable.from_function(CONFIG, lambda p, op: 0.01, ops=OPS)
    with pytest.raises(lt.LatencyTableError, match="no entry for op 'mbconv_k7_e6' at layer 0"):
        table.predict(("mbconv_k7_e6",) + ("mbconv_k3_e1",) * 19)


@pytest.fixture(scope="module")
def measured_table(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("table") / "cpu.json")
    return lt.build_table(CONFIG, path, ops=OPS, num_runs=8, warmup_runs=2, log=lambda m: None), path


def test_real_build_measures_every_position_and_op(measured_table):
    table, _ = measured_table
    assert set(table.entries) == {p.key() for p in CONFIG.positions()}
    for row in table.entries.values():
        assert set(row) == set(OPS) and all(min(v) >= 0 for v in row.values())
    assert table.fixed_overhead_ms > 0 and table.invoke_overhead_ms > 0
    assert table.device["cpu_model"] and table.litert_version and table.num_threads == 1
    ladder = table.flush_bytes
    assert ladder[0] == 0 and len(ladder) == 6 and ladder == sorted(ladder)
    key = CONFIG.positions()[0].key()
    for op in OPS:
        assert len(table.entries[key][op]) == len(ladder)
        assert set(table.entry_stats[key][op]) == {"min", "p10", "median"}
        assert table.op_bytes[key][op] > 0 and table.op_macs[key][op] > 0
    ops = ("mbconv_k3_e1",) * 20
    assert table.predict(ops) > table.invoke_overhead_ms
    assert table.footprint_bytes(ops) > sum(table.op_bytes[p.key()]["mbconv_k3_e1"] for p in CONFIG.positions()) - 1


def test_build_resumes_without_remeasuring(measured_table, monkeypatch):
    table, path = measured_table

    def fail(*args, **kwargs):
        raise AssertionError("a complete table must not be measured again")

    monkeypatch.setattr(lt, "time_model", fail)
    again = lt.build_table(CONFIG, path, ops=OPS, num_runs=8, warmup_runs=2, log=lambda m: None)
    assert again.entries == table.entries


def test_build_refuses_to_extend_another_devices_table(measured_table, tmp_path):
    _, path = measured_table
    data = json.loads(open(path).read())
    data["device"] = {**data["device"], "cpu_model": "Raspberry Pi 4 Model B"}
    other = tmp_path / "pi.json"
    other.write_text(json.dumps(data))
    loaded = lt.LatencyTable.load(str(other), CONFIG)  # a table measured elsewhere loads the same way
    assert loaded.device["cpu_model"] == "Raspberry Pi 4 Model B"
    with pytest.raises(lt.LatencyTableError, match="measured on .*Raspberry Pi"):
        lt.build_table(CONFIG, str(other), ops=OPS, log=lambda m: None)


def test_measured_architecture_latency(measured_table):
    table, _ = measured_table
    genotype = hurricane.HurricaneGenotype(("shufflenet_k3",) * 20, 32, 0.25)
    measured = lt.measure_architecture(genotype, 10, 1, num_runs=20, warmup_runs=2)
    assert 0 < measured.p5_ms <= measured.median_ms <= measured.p95_ms
    assert table.predict(genotype.ops) > 0


def test_calibration_fits_scale_and_offset_and_falls_back_to_the_median_ratio():
    rng = np.random.default_rng(0)
    predicted = rng.uniform(0.2, 2.0, 16)
    measured = 0.75 * predicted - 0.05
    scale, offset = lt.fit_calibration(predicted, measured * (1 + rng.normal(0, 0.01, 16)))
    assert scale == pytest.approx(0.75, rel=0.05) and offset == pytest.approx(-0.05, abs=0.02)
    # too few networks for an offset: the median ratio alone
    assert lt.fit_calibration(predicted[:4], measured[:4]) == (pytest.approx(np.median(measured[:4] / predicted[:4])), 0.0)
    # the line through these would predict <= 0 for a network half the smallest one's size: the median ratio alone
    steep = np.linspace(1.0, 2.0, 8)
    assert lt.fit_calibration(steep, 1.0 * steep - 0.9) == (pytest.approx(np.median((steep - 0.9) / steep)), 0.0)
    with pytest.raises(lt.LatencyTableError, match="positive"):
        lt.fit_calibration([1.0, 0.0], [1.0, 1.0])


def test_a_calibrated_table_predicts_scale_times_the_sum_plus_offset_and_old_tables_keep_their_scale(tmp_path):
    ops = hurricane.random_genotype(np.random.default_rng(0), 32, 0.25).ops
    table = _table()
    raw = table.predict_uncalibrated(ops)
    table.measurement["calibration"] = {"scale": 0.7, "offset_ms": -0.01}
    assert table.predict(ops) == pytest.approx(0.7 * raw - 0.01)
    path = str(tmp_path / "table.json")
    table.save(path)
    assert lt.LatencyTable.load(path, CONFIG).predict(ops) == pytest.approx(0.7 * raw - 0.01)
    table.measurement["calibration"] = {"scale": 0.7}  # a table written before offsets were fitted
    assert table.predict(ops) == pytest.approx(0.7 * raw)
