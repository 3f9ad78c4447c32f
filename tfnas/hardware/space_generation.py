"""HURRICANE's hardware-aware candidate generation: per layer, keep the k ops that suit this device.

Space-neutral: it reads only the latency table (positions, candidate ops, latencies, MACs).

The paper scores every candidate op per layer by its representation capacity and its efficiency
on the target hardware and keeps the best few per layer, so a DSP, a VPU and a CPU get different
spaces; the exact formula is not public ([U]). The rule here (documented in docs/METHODS.md):

* capacity  c = multiply-accumulates of the op at that layer position (its real input shape,
  stride and channels), counted from the op's own layers (``mobile_ops.op_macs``);
* latency   t = the device table's entry for the op at that position;
* efficiency  = c / t (MACs per millisecond on this device).

Per layer: (1) always keep the fastest op on this device, so the generated space still reaches
the lowest latency the device allows; (2) rank the other ops by Pareto front on (capacity up,
latency down): an op beaten on both by another op never outranks it; (3) within a front, by
``log c - latency_weight * log t`` (efficiency when ``latency_weight`` is 1). Keep the first k.
Different tables (devices, thread counts) change t, hence the fronts and the ranking, hence the space.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

from tfnas.hardware.latency_table import LatencyTable, LatencyTableError


@dataclasses.dataclass(frozen=True)
class ScoredOp:
    op: str
    macs: int
    latency_ms: float
    front: int
    score: float
    kept: bool

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class GeneratedSpace:
    """The k candidates per layer chosen for one device table, with every op's score for the record."""

    candidates: list[list[str]]
    scores: list[list[ScoredOp]]
    top_k: int
    latency_weight: float
    table_device: dict[str, Any]
    table_threads: int
    space: str = "hurricane"

    def to_json(self) -> dict[str, Any]:
        return {"space": self.space, "top_k": self.top_k, "latency_weight": self.latency_weight,
                "table_device": self.table_device, "table_threads": self.table_threads,
                "candidates": self.candidates,
                "scores": [[s.to_json() for s in layer] for layer in self.scores]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "GeneratedSpace":
        scores = [[ScoredOp(**s) for s in layer] for layer in data.get("scores", [])]
        return cls([list(c) for c in data["candidates"]], scores, int(data["top_k"]), float(data["latency_weight"]),
                   dict(data.get("table_device", {})), int(data.get("table_threads", 1)), str(data.get("space", "hurricane")))

    def summary(self) -> str:
        return "\n".join(f"layer {i:2d}: " + ", ".join(c) for i, c in enumerate(self.candidates))


def pareto_fronts(points: Sequence[tuple[float, float]]) -> list[int]:
    """Front index (0 = non-dominated) of each (capacity, latency) point: more capacity, less latency is better."""
    remaining = set(range(len(points)))
    fronts = [0] * len(points)
    level = 0
    while remaining:
        front = {i for i in remaining
                 if not any(points[j][0] >= points[i][0] and points[j][1] <= points[i][1]
                            and (points[j][0] > points[i][0] or points[j][1] < points[i][1])
                            for j in remaining if j != i)}
        for i in front:
            fronts[i] = level
        remaining -= front
        level += 1
    return fronts


def generate_space(table: LatencyTable, top_k: int = 4, ops: Sequence[str] | None = None,
                   latency_weight: float = 1.0) -> GeneratedSpace:
    """Score every op of ``ops`` (all the table has by default) per layer and keep ``top_k`` per layer."""
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    ops = list(ops) if ops is not None else None
    candidates, scores = [], []
    for position in table.positions:
        layer_ops = ops if ops is not None else table.ops_at(position.index)
        if not layer_ops:
            raise LatencyTableError(f"the device table has no ops for layer {position.index}; rebuild it")
        latencies = [table.op_latency(position.index, op) for op in layer_ops]
        macs = [table.macs(position.index, op) for op in layer_ops]
        fronts = pareto_fronts(list(zip(macs, latencies)))
        floor = 1e-6  # a measured 0 ms (below timer resolution) must not divide by zero
        value = [math.log(max(m, 1)) - latency_weight * math.log(max(t, floor)) for m, t in zip(macs, latencies)]
        fastest = min(range(len(layer_ops)), key=lambda i: (latencies[i], -macs[i]))
        order = [fastest] + sorted((i for i in range(len(layer_ops)) if i != fastest),
                                   key=lambda i: (fronts[i], -value[i], layer_ops[i]))
        kept = set(order[:top_k])
        candidates.append([layer_ops[i] for i in order[:top_k]])
        scores.append([ScoredOp(layer_ops[i], macs[i], latencies[i], fronts[i], value[i], i in kept) for i in order])
    return GeneratedSpace(candidates, scores, top_k, latency_weight, table.device, table.num_threads, table.space)
