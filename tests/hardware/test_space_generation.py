"""Hardware-aware space generation: top-k per layer, and different device tables give different spaces."""
from __future__ import annotations

import pytest

import tfnas  # noqa: F401

from tfnas.hardware import latency_table as lt
from tfnas.hardware import space_generation as sg
from tfnas.ops import mobile_ops
from tfnas.spaces import hurricane

CONFIG = hurricane.HurricaneConfig(32, 0.25, input_channels=1, num_classes=10)
OPS = ("shufflenet_k3", "shufflenet_k7", "shuffle_xception", "mbconv_k3_e1", "mbconv_k3_e6", "mbconv_k7_e6",
       "mbconv_k5_e3_se", "sep_conv_3x3")


@pytest.fixture(scope="module")
def macs():
    # MACs are device-independent: count them once and share them between the tables below. Layers
    # with equal keys are the same workload (tables store one entry per key), so each key is counted once.
    unique = {p.key(): p for p in CONFIG.positions()}.values()
    return {(p.key(), op): mobile_ops.op_macs(op, p.in_shape, p.out_channels, p.stride) for p in unique for op in OPS}


def _table(macs, per_mmac_ms: float, overhead_ms: dict[str, float], threads: int = 1) -> lt.LatencyTable:
    """A device whose op latency is a fixed cost per op family plus a compute term."""
    def latency(p, op):
        return overhead_ms.get(op.split("_")[0], 0.01) + per_mmac_ms * macs[(p.key(), op)] / 1e6

    table = lt.LatencyTable.from_function(CONFIG, latency, ops=OPS, num_threads=threads,
                                          device={"cpu_model": f"synthetic {threads} threads"})
    table.op_macs = {p.key(): {op: macs[(p.key(), op)] for op in OPS} for p in CONFIG.positions()}
    return table


def test_pareto_fronts():
    assert sg.pareto_fronts([(10, 1.0), (20, 2.0), (5, 2.0), (20, 1.0)]) == [1, 1, 2, 0]


def test_top_k_per_layer_keeps_the_fastest_op(macs):
    table = _table(macs, 0.05, {"shufflenet": 0.02, "mbconv": 0.01, "sep": 0.015})
    space = sg.generate_space(table, top_k=3)
    assert len(space.candidates) == 20 and all(len(c) == 3 for c in space.candidates)
    for i, cands in enumerate(space.candidates):
        assert min(OPS, key=lambda op: table.op_latency(i, op)) == cands[0]
        assert len(set(cands)) == 3
    assert all(len(layer) == len(OPS) for layer in space.scores)
    assert sg.GeneratedSpace.from_json(space.to_json()).candidates == space.candidates


def test_an_edited_table_changes_the_space(macs):
    base = _table(macs, 0.05, {"shufflenet": 0.02, "mbconv": 0.01, "sep": 0.015})
    before = sg.generate_space(base, top_k=4)
    favourite = before.candidates[10][1]
    edited = lt.LatencyTable.from_json(base.to_json())
    for row in edited.entries.values():
        row[favourite] *= 20  # this device runs that op very slowly
    after = sg.generate_space(edited, top_k=4)
    assert favourite not in after.candidates[10]
    assert after.candidates != before.candidates


def test_one_and_two_thread_tables_give_different_spaces(macs):
    # Two threads halve the compute term but not the per-op overhead (and shuffles parallelise badly).
    one = _table(macs, 0.05, {"shufflenet": 0.02, "mbconv": 0.01, "sep": 0.015}, threads=1)
    two = _table(macs, 0.025, {"shufflenet": 0.03, "mbconv": 0.012, "sep": 0.016}, threads=2)
    space1, space2 = sg.generate_space(one, top_k=3), sg.generate_space(two, top_k=3)
    assert space1.candidates != space2.candidates
    assert space2.table_threads == 2


def test_bad_top_k():
    with pytest.raises(ValueError, match="top_k"):
        sg.generate_space(lt.LatencyTable.from_function(CONFIG, lambda p, op: 0.01, ops=OPS), top_k=0)
