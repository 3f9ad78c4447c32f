"""NAS-Bench-201 as a tabular benchmark: its 15,625 cells as a CategoricalSpace and a look-up evaluator.

Query-based search needs three things from the table: the space (6 edges x 5 ops, one choice
per edge, in the arch-string edge order of ``tfnas.spaces.nasbench201``), an evaluator that
answers the test accuracy of the chosen dataset column, and optionally a latency limit on one of
the measured device columns, turned into a space constraint so that searchers only ever propose
cells that meet it. The table itself is ``../shared/benchdata/nasbench201.csv`` (see its
README); it is read, never copied, and every misuse (missing file, unknown objective or
device, a limit no cell meets) fails with one error that names the input and the fix.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from typing import Any, Mapping, Sequence

import numpy as np

from tfnas.errors import UserInputError
from tfnas.spaces.choices import Architecture, CategoricalSpace, Choice, Constraint, SearchSpaceError
from tfnas.spaces import nasbench201 as nb201
from tfnas.spaces.base import GenotypeError

DEFAULT_FILE = os.path.join(
    os.environ.get("TFNAS_BENCHDATA") or os.path.normpath(
        os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "benchdata")),
    "nasbench201.csv")
"""``$TFNAS_BENCHDATA/nasbench201.csv``, else the repository's sibling ``../shared/benchdata`` folder."""

OBJECTIVES: dict[str, str] = {
    "cifar10": "cifar10_test_acc",
    "cifar100": "cifar100_test_acc",
    "imagenet16_120": "imagenet16_120_test_acc",
}
"""--objective name -> accuracy column of the table (test accuracy in %, 200 epochs, seed mean)."""

LATENCY_PREFIX = "latency_ms_"
CHOICE_NAMES: tuple[str, ...] = tuple(f"edge_{t}_{s}" for t, s in nb201.EDGES)
"""One choice per edge, named ``edge_<target node>_<source node>``, in arch-string order."""


class BenchmarkError(UserInputError):
    """A benchmark table or query that cannot be used (missing file, unknown column, infeasible limit)."""


# --- the space and its conversions ----------------------------------------------------------------

def nasbench201_space(constraints: Sequence[Constraint] = ()) -> CategoricalSpace:
    """The 6-edge x 5-op NAS-Bench-201 cell space (15,625 architectures before constraints)."""
    return CategoricalSpace([Choice(name, nb201.OPS) for name in CHOICE_NAMES], constraints)


def arch_to_genotype(arch: Mapping[str, Any]) -> nb201.NasBench201Genotype:
    missing = [n for n in CHOICE_NAMES if n not in arch]
    if missing:
        raise SearchSpaceError(f"not a NAS-Bench-201 architecture: choices {missing} are missing "
                               f"(expected {list(CHOICE_NAMES)})")
    return nb201.NasBench201Genotype(tuple(arch[n] for n in CHOICE_NAMES))


def genotype_to_arch(genotype: nb201.NasBench201Genotype) -> Architecture:
    return dict(zip(CHOICE_NAMES, genotype.ops))


def arch_to_string(arch: Mapping[str, Any]) -> str:
    """The benchmark's ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` string of an architecture dict."""
    return arch_to_genotype(arch).to_arch_string()


def arch_from_string(arch_string: str) -> Architecture:
    """Parse an arch string (GenotypeError naming the bad part for malformed strings or unknown ops)."""
    return genotype_to_arch(nb201.NasBench201Genotype.from_arch_string(arch_string))


def _code(indices: Sequence[int]) -> int:
    """Base-5 number of a cell's op indices (edge 0 most significant): a dense key into arrays."""
    code = 0
    for i in indices:
        code = code * len(nb201.OPS) + int(i)
    return code


_OP_INDEX = {op: i for i, op in enumerate(nb201.OPS)}
_ARCH_OP = re.compile(r"\|([a-z0-9_]+)~(\d)")


def _code_of_string(arch_string: str) -> int:
    """``_code`` of an arch string, read with one regular expression (the table has 15,625 of them);
    anything unexpected goes through the full parser, which names what is wrong."""
    found = _ARCH_OP.findall(arch_string)
    if len(found) == len(nb201.EDGES) and all(op in _OP_INDEX for op, _ in found) and \
            [int(src) for _, src in found] == [src for _, src in nb201.EDGES]:
        return _code([_OP_INDEX[op] for op, _ in found])
    return _code(nb201.NasBench201Genotype.from_arch_string(arch_string).to_indices())


# --- the table --------------------------------------------------------------------------------------

@dataclasses.dataclass
class NasBench201Table:
    """All rows of nasbench201.csv, indexed by cell (base-5 code of the op indices) for O(1) queries."""

    path: str
    columns: dict[str, np.ndarray]  # numeric column -> values in code order
    arch_strings: list[str]  # in code order
    bench_index: np.ndarray  # NAS-Bench-201 index per code

    @classmethod
    def load(cls, path: str | None = None) -> "NasBench201Table":
        """Read the CSV (the standard library's reader: no pandas import, a fraction of a second)."""
        import csv

        path = path or DEFAULT_FILE
        if not os.path.exists(path):
            raise BenchmarkError(
                f"NAS-Bench-201 table {path!r} does not exist. Pass --benchmark_file=<path to nasbench201.csv> "
                f"(it ships in the shared benchdata folder next to the repository, ../shared/benchdata/).")
        try:
            with open(path, newline="") as f:
                reader = csv.reader(f)
                header = next(reader)
                rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error, StopIteration) as e:
            raise BenchmarkError(f"{path}: not a readable CSV ({type(e).__name__}: {e})") from None
        needed = ["index", "arch", *OBJECTIVES.values()]
        missing = [c for c in needed if c not in header]
        if missing:
            raise BenchmarkError(f"{path}: columns {missing} are missing; is this the NAS-Bench-201 table "
                                 "described in benchdata/README.md?")
        if len(rows) != nb201.NUM_CELLS or any(len(r) != len(header) for r in rows):
            raise BenchmarkError(f"{path}: expected {nb201.NUM_CELLS} complete rows of {len(header)} columns, "
                                 f"found {len(rows)} rows")
        arch_col, index_col = header.index("arch"), header.index("index")
        archs = [r[arch_col] for r in rows]
        codes = np.fromiter((_code_of_string(a) for a in archs), np.int64, len(archs))
        if len(np.unique(codes)) != len(codes):
            raise BenchmarkError(f"{path}: duplicate architectures in the table")
        order = np.argsort(codes)
        numeric = [i for i, c in enumerate(header) if c not in ("index", "arch")]
        try:
            values = np.array([[float(r[i]) if r[i] != "" else np.nan for i in numeric] for r in rows], np.float64)
            bench_index = np.array([int(r[index_col]) for r in rows])
        except ValueError as e:
            raise BenchmarkError(f"{path}: a numeric column holds a non-number ({e})") from None
        columns = {header[i]: values[order, j] for j, i in enumerate(numeric)}
        return cls(path, columns, [archs[i] for i in order], bench_index[order])

    @property
    def devices(self) -> list[str]:
        """Device names with a latency column (``latency_ms_<device>``)."""
        return [c[len(LATENCY_PREFIX):] for c in self.columns if c.startswith(LATENCY_PREFIX)]

    def objective_column(self, objective: str) -> str:
        if objective not in OBJECTIVES:
            raise BenchmarkError(f"unknown --objective {objective!r}; choose one of {sorted(OBJECTIVES)}")
        return OBJECTIVES[objective]

    def latency_column(self, device: str) -> str:
        column = device if device.startswith(LATENCY_PREFIX) else LATENCY_PREFIX + device
        if column not in self.columns:
            raise BenchmarkError(f"unknown --device {device!r}: the table has no column {column!r}; devices with "
                                 f"latencies: {self.devices}")
        return column

    def join_latency(self, latency_file: str, device: str = "user") -> str:
        """Add the latencies a user measured (a CSV of ``arch`` strings and ``latency_ms``) as the column
        ``latency_ms_<device>``; cells the file does not name get no latency (and fail any limit)."""
        import csv

        try:
            with open(latency_file, newline="") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise BenchmarkError(f"--latency_file={latency_file}: not a readable CSV ({type(e).__name__}: {e})") from None
        if not rows or "arch" not in rows[0] or "latency_ms" not in rows[0]:
            raise BenchmarkError(f"--latency_file={latency_file} needs the columns arch (NAS-Bench-201 strings) and "
                                 "latency_ms")
        values = np.full(nb201.NUM_CELLS, np.nan)
        for r in rows:
            try:
                values[_code_of_string(r["arch"])] = float(r["latency_ms"])
            except (ValueError, KeyError, GenotypeError) as e:
                raise BenchmarkError(f"--latency_file={latency_file}: bad row {r} ({e})") from None
        column = LATENCY_PREFIX + device
        self.columns[column] = values
        return column

    def code_of(self, arch: Mapping[str, Any]) -> int:
        return _code(arch_to_genotype(arch).to_indices())

    def row(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """Every column of the cell's row (plus its NAS-Bench-201 index and arch string)."""
        code = self.code_of(arch)
        out: dict[str, Any] = {c: float(v[code]) for c, v in self.columns.items()}
        out["index"] = int(self.bench_index[code])
        out["arch"] = self.arch_strings[code]
        return out

    def lookup(self, arch_string: str) -> dict[str, Any]:
        """The row of a cell given as the benchmark's arch string (e.g. a found genotype's)."""
        return self.row(arch_from_string(arch_string))

    def values(self, column: str) -> np.ndarray:
        """The column for every cell, in the space's enumeration order (itertools.product of op indices)."""
        return self.columns[column]

    def all_archs(self) -> list[Architecture]:
        """Every cell as an architecture dict, in code order (aligned with ``values``)."""
        return [genotype_to_arch(g) for g in nb201.all_genotypes()]


# --- the evaluator -----------------------------------------------------------------------------------

class NasBench201Evaluator:
    """Answers an architecture's metrics from the table: the objective accuracy, all accuracies, latency.

    ``metric`` (the objective column name, e.g. ``cifar10_test_acc``) is what searchers maximise.
    With ``device`` and ``max_latency_ms`` it also provides ``constraint`` for the space, and checks
    at construction that at least one cell meets the limit.
    """

    def __init__(self, table: NasBench201Table, objective: str = "cifar10", device: str | None = None,
                 max_latency_ms: float | None = None):
        self.table = table
        self.objective = objective
        self.metric = table.objective_column(objective)
        self.device = device
        self.latency_metric = table.latency_column(device) if device else None
        if max_latency_ms is not None and self.latency_metric is None:
            raise BenchmarkError("--max_latency_ms needs --device=<device> to say whose latency is limited; "
                                 f"devices: {table.devices}")
        if max_latency_ms is not None and not (max_latency_ms > 0 and math.isfinite(max_latency_ms)):
            raise BenchmarkError(f"--max_latency_ms must be a positive number of milliseconds, got {max_latency_ms}")
        self.max_latency_ms = max_latency_ms
        if max_latency_ms is not None:
            latencies = table.values(self.latency_metric)
            if not (latencies <= max_latency_ms).any():
                raise BenchmarkError(
                    f"no NAS-Bench-201 cell meets --max_latency_ms={max_latency_ms} on {device!r}: the fastest cell "
                    f"takes {latencies.min():.4g} ms. Raise the limit (median cell: {np.median(latencies):.4g} ms).")
        self.num_queries = 0

    def feasible_mask(self) -> np.ndarray:
        """Bool per cell (code order): meets the latency limit (all True without a limit)."""
        if self.max_latency_ms is None:
            return np.ones(nb201.NUM_CELLS, bool)
        return self.table.values(self.latency_metric) <= self.max_latency_ms

    def constraint(self) -> Constraint | None:
        """The latency limit as a space constraint (None without a limit)."""
        if self.max_latency_ms is None:
            return None
        column, limit, values = self.latency_metric, self.max_latency_ms, self.table.values(self.latency_metric)
        return Constraint(f"{column} <= {limit:g}", lambda arch: bool(values[self.table.code_of(arch)] <= limit))

    def space(self) -> CategoricalSpace:
        """The NAS-Bench-201 space with this evaluator's latency limit (if any) as its constraint."""
        constraint = self.constraint()
        return nasbench201_space([constraint] if constraint else [])

    def evaluate(self, arch: Architecture) -> dict[str, float]:
        self.num_queries += 1
        code = self.table.code_of(arch)
        metrics = {c: float(self.table.columns[c][code]) for c in OBJECTIVES.values()}
        if self.latency_metric:
            metrics[self.latency_metric] = float(self.table.columns[self.latency_metric][code])
        return metrics

    def best_feasible(self) -> tuple[Architecture, float]:
        """The table's best cell under the limit and its objective value (for regret)."""
        values = np.where(self.feasible_mask(), self.table.values(self.metric), -np.inf)
        code = int(np.argmax(values))
        return genotype_to_arch(nb201.NasBench201Genotype.from_indices(np.unravel_index(code, (5,) * 6))), \
            float(values[code])


def latency_limit(values: np.ndarray, max_latency_ms: float | None, percentile: float | None) -> float | None:
    """The limit in ms: given, or the ``percentile`` of the measured latencies (e.g. 25: the fastest quarter)."""
    if percentile is None:
        return max_latency_ms
    if max_latency_ms is not None:
        raise BenchmarkError("pass --max_latency_ms or --max_latency_percentile, not both")
    if not 0 < percentile <= 100:
        raise BenchmarkError(f"--max_latency_percentile must be in (0, 100], got {percentile}")
    finite = values[np.isfinite(values)]
    return float(np.percentile(finite, percentile))


def load_evaluator(path: str | None, objective: str = "cifar10", device: str | None = None,
                   max_latency_ms: float | None = None, latency_file: str | None = None,
                   max_latency_percentile: float | None = None) -> NasBench201Evaluator:
    """Table + evaluator in one call from plain settings (what the binaries and every parallel worker use).

    ``latency_file``: the user's own latencies (a CSV of arch strings and latency_ms), limited and
    reported as the column ``latency_ms_user``; ``max_latency_percentile`` sets the limit at that
    percentile of the limited device's latencies.
    """
    table = NasBench201Table.load(path)
    if latency_file:
        if device is not None:
            raise BenchmarkError("--latency_file is your own device's latency: drop --device")
        device = table.join_latency(latency_file)
    if max_latency_percentile is not None:
        if device is None:
            raise BenchmarkError("--max_latency_percentile needs --device or --latency_file (whose latencies)")
        max_latency_ms = latency_limit(table.values(table.latency_column(device)), max_latency_ms,
                                       max_latency_percentile)
    return NasBench201Evaluator(table, objective, device, max_latency_ms)


__all__ = ["BenchmarkError", "CHOICE_NAMES", "DEFAULT_FILE", "GenotypeError", "NasBench201Evaluator",
           "NasBench201Table", "OBJECTIVES", "arch_from_string", "arch_to_genotype", "arch_to_string",
           "genotype_to_arch", "load_evaluator", "nasbench201_space"]
