"""Two uninterrupted HURRICANE searches with the same seed write the same genotype and search summary."""
from __future__ import annotations

import json
import os

import tfnas  # noqa: F401

from tfnas.methods import hurricane as method
from tfnas.spaces import hurricane

CONFIG = hurricane.HurricaneConfig(32, 0.25, input_channels=1, num_classes=10)  # mnist_embedded at 32 px
OPS = ("mbconv_k3_e1", "shufflenet_k3", "mbconv_k3_e3_se")
COST = {"mbconv_k3_e1": 0.01, "shufflenet_k3": 0.012, "mbconv_k3_e3_se": 0.013}
TIMES = ("wall_time_s", "training_time_s", "train_seconds", "search_seconds")


def _table(path: str) -> str:
    """A device where only the four strided layers have a choice (keeps both supernets tiny)."""
    from conftest import strided_choice_table

    return strided_choice_table(CONFIG, {op: COST[op] for op in OPS}, path)


def _without_times(value):
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def _search(output_dir: str, table: str, data_dir: str) -> tuple[dict, dict]:
    config = method.HurricaneSearchConfig(
        output_dir=output_dir, device_table=table, max_latency_ms=0.05 + 20 * 0.01 + 0.006, data_dir=data_dir,
        resolution=32, width_multiplier=0.25, top_k=2, epochs=2, steps_per_epoch=3, batch_size=32,
        population_size=4, generations=2, num_parents=2, num_mutations=2, num_crossovers=2,
        recalibration_batches=3, eval_examples=128, measure_best=False, seed=5, verbose=0)
    method.run_hurricane_search(config)
    with open(os.path.join(output_dir, "genotype.json")) as f:
        genotype = json.load(f)
    with open(os.path.join(output_dir, "search_summary.json")) as f:
        summary = json.load(f)
    return genotype, summary


def test_same_seed_same_genotype_and_summary(tmp_path, tfds_dir):
    table = _table(str(tmp_path / "table.json"))
    genotype_a, summary_a = _search(str(tmp_path / "a"), table, tfds_dir)
    genotype_b, summary_b = _search(str(tmp_path / "b"), table, tfds_dir)
    assert genotype_a == genotype_b
    assert _without_times(summary_a) == _without_times(summary_b)
    # Both stages ran and evaluated candidates (the comparison is not between two empty searches).
    assert [s["name"] for s in summary_a["stages"]] == ["stage1", "stage2"]
    assert len(summary_a["history"]) >= 4 and len({h["accuracy"] for h in summary_a["history"]}) > 1
    assert summary_a["settings"]["seed"] == 5
