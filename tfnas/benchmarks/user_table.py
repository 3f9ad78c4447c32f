"""A user's own tabular benchmark: one row per architecture, a column per choice, metric columns.

What NAS-Bench-201 is to the shipped searches, a CSV (or a JSON list of row objects) of the user's
own measured architectures is here: ``--benchmark=table --benchmark_file=runs.csv`` searches its
rows with every discrete searcher. Which columns are choices and which metric is the objective is
said by flags (``--table_choices=depth,width,kernel --table_objective=accuracy``) or by a schema
file beside the table (``<benchmark_file>.schema.json``: ``{"choices": [...], "objective": "...",
"mode": "max"}``). Choice values are kept as the strings the file holds; every other column that
holds numbers is a metric an evaluation reports.

The space is the product of the choices' observed values, restricted to the rows the table has
(a constraint), and optionally to rows under a latency limit.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np

from tfnas.benchmarks.nasbench201 import BenchmarkError, latency_limit
from tfnas.spaces.choices import Architecture, CategoricalSpace, Choice, Constraint

SPACE = "table"


def _rows(path: str) -> list[dict[str, str]]:
    if not os.path.exists(path):
        raise BenchmarkError(f"--benchmark_file={path} does not exist; pass a CSV (header row) or a JSON list of rows")
    try:
        if path.endswith(".json"):
            with open(path) as f:
                data = json.load(f)
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise BenchmarkError(f"{path}: a JSON table is a list of row objects ({{column: value}})")
            return [{k: "" if v is None else str(v) for k, v in r.items()} for r in data]
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error, json.JSONDecodeError) as e:
        raise BenchmarkError(f"{path}: not a readable table ({type(e).__name__}: {e})") from None


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def read_schema(path: str, choices: Sequence[str] | None, objective: str | None,
                mode: str | None) -> tuple[list[str], str, str]:
    """(choice columns, objective column, "max"|"min") from the flags, else ``<path>.schema.json``."""
    schema_path = path + ".schema.json"
    schema: dict[str, Any] = {}
    if (not choices or not objective) and os.path.exists(schema_path):
        try:
            with open(schema_path) as f:
                schema = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise BenchmarkError(f"{schema_path}: not valid JSON ({e})") from None
    choices = list(choices or schema.get("choices") or [])
    objective = objective or schema.get("objective")
    mode = mode or schema.get("mode") or "max"
    if not choices or not objective:
        raise BenchmarkError(f"say which columns of {path} are choices and which is the objective: "
                             "--table_choices=<col,col,...> --table_objective=<col>, or a schema file "
                             f"{schema_path} with {{\"choices\": [...], \"objective\": \"...\"}}")
    if mode not in ("max", "min"):
        raise BenchmarkError(f"the objective's mode must be max or min, got {mode!r}")
    return choices, objective, mode


@dataclasses.dataclass
class UserTable:
    """The table: its architectures (choice values per row) and numeric metric columns."""

    path: str
    choices: list[str]
    objective: str
    mode: str
    archs: list[dict[str, str]]
    metrics: dict[str, np.ndarray]
    index: dict[tuple[str, ...], int]

    @classmethod
    def load(cls, path: str, choices: Sequence[str] | None = None, objective: str | None = None,
             mode: str | None = None) -> "UserTable":
        choices, objective, mode = read_schema(path, choices, objective, mode)
        rows = _rows(path)
        if not rows:
            raise BenchmarkError(f"{path} has no rows")
        columns = list(rows[0])
        missing = [c for c in [*choices, objective] if c not in columns]
        if missing:
            raise BenchmarkError(f"{path}: no column(s) {missing}; it has {columns}")
        metric_names = [c for c in columns if c not in choices
                        and all(_number(r.get(c, "")) is not None for r in rows)]
        if objective not in metric_names:
            raise BenchmarkError(f"{path}: the objective column {objective!r} must hold a number in every row")
        archs, index = [], {}
        for n, r in enumerate(rows):
            arch = {c: r[c] for c in choices}
            key = tuple(arch[c] for c in choices)
            if key in index:
                raise BenchmarkError(f"{path}: rows {index[key] + 2} and {n + 2} hold the same architecture {arch}")
            index[key] = n
            archs.append(arch)
        metrics = {c: np.array([float(r[c]) for r in rows]) for c in metric_names}
        return cls(path, choices, objective, mode, archs, metrics, index)

    def row_of(self, arch: Mapping[str, Any]) -> int | None:
        return self.index.get(tuple(str(arch[c]) for c in self.choices))

    def join_latency(self, latency_file: str) -> str:
        """Add a ``latency_ms`` column from ``latency_file`` (the choice columns and latency_ms, per row)."""
        rows = _rows(latency_file)
        if not rows or "latency_ms" not in rows[0] or any(c not in rows[0] for c in self.choices):
            raise BenchmarkError(f"--latency_file={latency_file} needs the columns {self.choices} and latency_ms")
        values = np.full(len(self.archs), np.nan)
        for r in rows:
            row = self.row_of(r)
            value = _number(r["latency_ms"])
            if row is not None and value is not None:
                values[row] = value
        if np.isnan(values).all():
            raise BenchmarkError(f"--latency_file={latency_file}: no row matches an architecture of {self.path}")
        self.metrics["latency_ms"] = values
        return "latency_ms"


class UserTableEvaluator:
    """An architecture's metrics from the user's table; ``space()`` holds exactly the table's rows."""

    def __init__(self, table: UserTable, latency_column: str | None = None, max_latency_ms: float | None = None):
        self.table, self.metric, self.mode = table, table.objective, table.mode
        self.latency_metric, self.max_latency_ms = latency_column, max_latency_ms
        if max_latency_ms is not None:
            if latency_column is None:
                raise BenchmarkError("a latency limit needs a latency column: --latency_file=<csv> or a latency_ms "
                                     "column in the table")
            if not (np.nan_to_num(table.metrics[latency_column], nan=math.inf) <= max_latency_ms).any():
                raise BenchmarkError(f"no architecture of {table.path} meets the latency limit {max_latency_ms:g} ms")
        self.num_queries = 0

    def feasible(self, row: int) -> bool:
        if self.max_latency_ms is None:
            return True
        value = self.table.metrics[self.latency_metric][row]
        return bool(np.isfinite(value) and value <= self.max_latency_ms)

    def space(self) -> CategoricalSpace:
        options = {c: sorted({a[c] for a in self.table.archs}, key=lambda v: (_number(v) is None, _number(v) or 0, v))
                   for c in self.table.choices}
        choices = [Choice(c, tuple(options[c])) for c in self.table.choices]

        def in_table(arch: Architecture) -> bool:
            row = self.table.row_of(arch)
            return row is not None and self.feasible(row)

        limit = f" and {self.latency_metric} <= {self.max_latency_ms:g}" if self.max_latency_ms is not None else ""
        return CategoricalSpace(choices, [Constraint(f"a row of {os.path.basename(self.table.path)}{limit}", in_table)])

    def evaluate(self, arch: Architecture) -> dict[str, float]:
        self.num_queries += 1
        row = self.table.row_of(arch)
        if row is None:
            raise BenchmarkError(f"{arch} is not a row of {self.table.path}")
        return {c: float(v[row]) for c, v in self.table.metrics.items() if np.isfinite(v[row])}

    def best_feasible(self) -> tuple[Architecture, float]:
        sign = 1.0 if self.mode == "max" else -1.0
        values = np.array([sign * self.table.metrics[self.metric][i] if self.feasible(i) else -np.inf
                           for i in range(len(self.table.archs))])
        row = int(np.argmax(values))
        return dict(self.table.archs[row]), float(self.table.metrics[self.metric][row])


def arch_to_string(arch: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in arch.items())


def arch_to_genotype(table: UserTable):
    """A plain-dict genotype naming the table and the row's choices (the runner writes it as it is)."""
    def convert(arch: Mapping[str, Any]) -> dict[str, Any]:
        return {"space": SPACE, "version": 1, "benchmark_file": os.path.abspath(table.path),
                "arch": {c: str(arch[c]) for c in table.choices}}
    return convert


def load_evaluator(path: str, choices: Sequence[str] | None = None, objective: str | None = None,
                   mode: str | None = None, latency_file: str | None = None, max_latency_ms: float | None = None,
                   max_latency_percentile: float | None = None) -> UserTableEvaluator:
    """Table + evaluator from plain settings (the binaries, and every parallel worker, build it so)."""
    table = UserTable.load(path, choices, objective, mode)
    latency = table.join_latency(latency_file) if latency_file else ("latency_ms" if "latency_ms" in table.metrics
                                                                      else None)
    if latency is None and max_latency_percentile is not None:
        raise BenchmarkError("--max_latency_percentile needs latencies: --latency_file or a latency_ms column")
    limit = latency_limit(table.metrics[latency] if latency else np.array([]), max_latency_ms, max_latency_percentile)
    return UserTableEvaluator(table, latency, limit)
