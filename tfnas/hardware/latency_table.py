"""Per-device operator latency tables for a layer-wise space, and latency prediction from them.

The table knows no space: it measures what a ``LayerwiseProfile`` (tfnas/spaces/layerwise.py)
describes: layer positions, candidate ops, the fixed parts and whole networks. HURRICANE's
mobile space is the one that ships a profile today.

A table holds, for every searchable layer position of the space (its real input shape, stride and
output channels) and every candidate op, the LiteRT latency of that op converted on its own to a
one-op TFLite model, plus the fixed part of every network (stem, head, one invocation's overhead).
Predicted latency of an architecture = fixed part + sum of its ops' entries.

Why an entry is not one number "timed back to back" (the naive table of MEASURED.md, which missed
whole networks by 20-40%): timed back to back, a one-op model finds its weights in the CPU's caches.
Inside a network the other layers push their own weights and activations through the caches
between two runs of that op, so how much of it is still cached depends on how many bytes the rest of
*this* network touches, from a few MiB (fits in the last-level cache: the op runs warm) to hundreds
(everything comes from DRAM). So every op is timed in the cache state it meets in a network: before
each timed run, ``flush`` bytes of memory are read, for a ladder of flush sizes from 0 to the bytes
the heaviest network of the space touches (at most 4x the last-level cache); the entry is the latency
curve over that ladder. For an architecture, each op is
read off its curve at the bytes the rest of that architecture touches per inference (weights and
activations, recorded per op while measuring), and the curves are interpolated linearly. The empty
model's latency (one invocation's overhead) is subtracted from every op and counted once.

Why the ladder stops at the heaviest network: an architecture's op is only ever read off its curve
at the bytes the rest of that architecture touches, never beyond what the heaviest one touches, so
flushing more measures states no network of the space creates. On a server CPU with a large
last-level cache (hundreds of MiB) and a small space (32x32 inputs, width 0.25: a few MiB per
network), a ladder of multiples of the cache read gigabytes before every timed run (the build took
hours); capped, it reads a few MiB and resolves the range networks actually live in. Where networks
touch more than 4x the cache, the ladder is the cache-based one (0, 1/4, 1/2, 1, 2, 4 x the cache).
Eviction reads one 8-byte word per 64-byte cache line: the cache holds whole lines, so this evicts
what reading every byte evicts, at a fraction of the arithmetic. The ops are converted to TFLite
before anything is timed (the ladder needs every op's bytes), into a temporary directory.

Timings use the minimum over interleaved rounds (all flush sizes in turn, ``num_runs`` rounds) by
default: other processes on a shared machine only ever add time, and on an idle device the minimum
and the median agree within a few percent. Median and 10th percentile are recorded too.

Tables are JSON, carry the device identity (CPU model, cores, machine), thread count, LiteRT
version and the space geometry (resolution, width multiplier, input channels, classes), are built
incrementally (an interrupted build resumes), and refuse to be used for another geometry. Entries may
also be plain numbers (no cache dependence), e.g. in tables made from a cost function.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfnas.hardware import export, litert
from tfnas.spaces.layerwise import LayerPosition, LayerwiseProfile, as_profile, profile_for
from tfnas.errors import LatencyTableError, UserInputError  # noqa: F401  (LatencyTableError re-exported)
from tfnas.files import write_json

keras = tf.keras

TABLE_FORMAT = "tfnas-latency-table"
TABLE_VERSION = 2
STATISTICS = ("min", "p10", "median")
FLUSH_LADDER = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)  # flush sizes in units of the last-level cache
DEFAULT_LLC_BYTES = 8 * 2**20
CACHE_LINE_BYTES = 64
Entry = "float | list[float]"


def _build_hint(profile: LayerwiseProfile | None, path: str | None = None) -> str:
    flags = "--space=<space>" if profile is None else profile.build_flags()
    return f"build one with: python -m binaries.profile_latency --build_table {flags} --output={path or '<table.json>'}"


def last_level_cache_bytes() -> int:
    """Size of the largest CPU cache (sysfs), or 8 MiB when the system does not say."""
    best = 0
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in os.listdir(base):
            try:
                with open(os.path.join(base, index, "size")) as f:
                    text = f.read().strip().upper()
            except OSError:
                continue
            scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
            digits = text[:-1] if text[-1:] in "KMG" else text
            if digits.isdigit():
                best = max(best, int(digits) * scale)
    except OSError:
        pass
    return best or DEFAULT_LLC_BYTES


def _interp(entry: Any, flush_bytes: Sequence[int], rest_bytes: float) -> float:
    if isinstance(entry, (int, float)):
        return float(entry)
    return float(np.interp(rest_bytes, flush_bytes, entry))


@dataclasses.dataclass
class LatencyTable:
    """Measured op latencies (ms) per layer position of one space geometry on one device."""

    profile: LayerwiseProfile
    num_threads: int
    device: dict[str, Any]
    litert_version: str
    measurement: dict[str, Any]
    invoke_overhead_ms: float = 0.0
    fixed_ms: dict[str, Any] = dataclasses.field(default_factory=dict)  # "stem", "head" -> entry
    entries: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # position key -> op -> entry
    entry_stats: dict[str, dict[str, dict[str, Any]]] = dataclasses.field(default_factory=dict)  # every statistic
    op_bytes: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)  # bytes an op touches per run
    op_macs: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    created: str = ""

    # --- geometry of the cache model ----------------------------------------------------------------
    @property
    def space(self) -> str:
        return self.profile.space

    @property
    def geometry(self) -> dict[str, Any]:
        return dict(self.profile.geometry)

    @property
    def positions(self) -> list[LayerPosition]:
        return list(self.profile.positions)

    @property
    def flush_bytes(self) -> list[int]:
        return [int(b) for b in self.measurement.get("flush_bytes", [0])]

    @property
    def typical_rest_bytes(self) -> float:
        """Bytes the rest of an average architecture touches: where single-number lookups read the curves."""
        return float(self.measurement.get("typical_rest_bytes", 0.0))

    def _fixed_bytes(self) -> int:
        return sum(self.op_bytes.get("fixed", {}).values())

    def footprint_bytes(self, ops: Sequence[str]) -> int:
        """Bytes one inference of the architecture touches (weights and activations of every layer)."""
        return self._fixed_bytes() + sum(self.op_bytes.get(p.key(), {}).get(op, 0)
                                         for p, op in zip(self.positions, ops))

    # --- lookups -----------------------------------------------------------------------------------
    def _fixed_entry(self, name: str) -> Any:
        if name not in self.fixed_ms:
            raise LatencyTableError(f"table has no measurement of the {name}; rebuild it (it was interrupted)")
        return self.fixed_ms[name]

    @property
    def fixed_overhead_ms(self) -> float:
        """Stem + head + one invocation's overhead at the typical cache state."""
        rest = self.typical_rest_bytes
        return self.invoke_overhead_ms + sum(_interp(self._fixed_entry(n), self.flush_bytes, rest)
                                             for n in ("stem", "head"))

    def ops_at(self, layer: int) -> list[str]:
        return sorted(self.entries.get(self.positions[layer].key(), {}))

    def _entry(self, layer: int, op: str) -> Any:
        if op not in self.profile.vocabulary:
            raise LatencyTableError(f"unknown op {op!r} at layer {layer}; valid ops: {list(self.profile.vocabulary)}")
        key = self.positions[layer].key()
        try:
            return self.entries[key][op]
        except KeyError:
            raise LatencyTableError(
                f"the device table has no entry for op {op!r} at layer {layer} ({key}); rebuild the table with "
                "that op (binaries.profile_latency --build_table measures every op unless --table_ops limits it)"
            ) from None

    def op_latency(self, layer: int, op: str, rest_bytes: float | None = None) -> float:
        """Latency (ms) of ``op`` at ``layer`` when the rest of the network touches ``rest_bytes``
        (default: as much as in an average architecture of the space)."""
        rest = self.typical_rest_bytes if rest_bytes is None else rest_bytes
        return _interp(self._entry(layer, op), self.flush_bytes, rest)

    @property
    def calibration_scale(self) -> float:
        return float((self.measurement.get("calibration") or {}).get("scale", 1.0))

    @property
    def calibration_offset_ms(self) -> float:
        """The calibration's offset (0 for tables calibrated by a scale alone, before offsets were fitted)."""
        return float((self.measurement.get("calibration") or {}).get("offset_ms", 0.0))

    def predict(self, ops: Sequence[str]) -> float:
        """Predicted latency (ms) of the architecture with one op per searchable layer (calibrated)."""
        return self.calibration_scale * self.predict_uncalibrated(ops) + self.calibration_offset_ms

    def predict_uncalibrated(self, ops: Sequence[str]) -> float:
        """Fixed part + sum of the ops read off their cache curves, before the table's calibration scale."""
        if len(ops) != self.profile.num_layers:
            raise LatencyTableError(f"an architecture has {self.profile.num_layers} ops, got {len(ops)}")
        total_bytes = self.footprint_bytes(ops)
        latency = self.invoke_overhead_ms
        fixed_bytes = self.op_bytes.get("fixed", {})
        for name in ("stem", "head"):
            latency += _interp(self._fixed_entry(name), self.flush_bytes, total_bytes - fixed_bytes.get(name, 0))
        for position, op in zip(self.positions, ops):
            own = self.op_bytes.get(position.key(), {}).get(op, 0)
            latency += self.op_latency(position.index, op, total_bytes - own)
        return latency

    def fastest(self, candidates: Sequence[Sequence[str]]) -> tuple[float, tuple[str, ...]]:
        """The lowest predicted latency reachable with ``candidates`` per layer, and that architecture.

        Layers are chosen by their typical-cache latency, then the exact prediction is refined by
        coordinate descent (a lighter op elsewhere changes every op's cache state only slightly).
        """
        ops = [min(cands, key=lambda op, i=i: self.op_latency(i, op)) for i, cands in enumerate(candidates)]
        best = self.predict(ops)
        improved = True
        while improved:
            improved = False
            for i, cands in enumerate(candidates):
                for op in cands:
                    trial = ops[:i] + [op] + ops[i + 1:]
                    value = self.predict(trial)
                    if value < best - 1e-12:
                        ops, best, improved = trial, value, True
        return best, tuple(ops)

    def check_geometry(self, space_or_profile: Any, path: str = "device table") -> None:
        """Refuse a table measured for another space or geometry (e.g. resolution, width, classes)."""
        theirs = as_profile(space_or_profile)
        if theirs.space != self.space:
            raise LatencyTableError(f"{path} is a table for space {self.space!r}, not {theirs.space!r}; "
                                    f"{_build_hint(theirs)}")
        mine = self.profile.geometry
        diffs = [f"{name} {mine.get(name)} (asked for {value})" for name, value in theirs.geometry.items()
                 if mine.get(name) != value]
        if diffs:
            raise LatencyTableError(f"{path} was measured for another network geometry: {', '.join(diffs)}. "
                                    f"Latencies do not transfer between geometries; {_build_hint(theirs)}")

    def check_complete(self, candidates: Sequence[Sequence[str]] | None = None) -> None:
        candidates = candidates or [self.profile.vocabulary] * self.profile.num_layers
        for i, ops in enumerate(candidates):
            for op in ops:
                self._entry(i, op)
        self.fixed_overhead_ms  # noqa: B018  (raises when missing)

    def macs(self, layer: int, op: str) -> int:
        """MACs of ``op`` at ``layer`` (recorded while measuring; counted on the fly otherwise)."""
        position = self.positions[layer]
        recorded = self.op_macs.get(position.key(), {}).get(op)
        if recorded is not None:
            return recorded
        value = self.profile.op_macs(position, op)
        self.op_macs.setdefault(position.key(), {})[op] = value
        return value

    @classmethod
    def from_function(cls, space_or_profile: Any,
                      latency_ms: Callable[[LayerPosition, str], float], ops: Sequence[str] | None = None,
                      fixed_ms: float = 0.0, device: dict[str, Any] | None = None, num_threads: int = 1,
                      ) -> "LatencyTable":
        """A table whose entries come from ``latency_ms(position, op)`` instead of measurements.

        For analytical cost models, hand-edited what-if tables and tests; entries are plain numbers
        (no cache dependence) and ``device`` says where they come from.
        """
        profile = as_profile(space_or_profile)
        table = cls(profile=profile, num_threads=num_threads, device=device or {"cpu_model": "analytical"},
                    litert_version="n/a", measurement={"method": "function", "statistic": "min", "flush_bytes": [0]},
                    fixed_ms={"stem": fixed_ms / 2, "head": fixed_ms / 2})
        for position in profile.positions:
            row = table.entries.setdefault(position.key(), {})
            for op in ops or profile.vocabulary:
                row[op] = float(latency_ms(position, op))
        return table

    # --- JSON -----------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"format": TABLE_FORMAT, "version": TABLE_VERSION, "space": self.space,
                "space_version": self.profile.space_version, "geometry": dict(self.profile.geometry),
                "num_threads": self.num_threads, "device": self.device, "litert_version": self.litert_version,
                "measurement": self.measurement, "created": self.created,
                "invoke_overhead_ms": self.invoke_overhead_ms, "fixed_ms": self.fixed_ms,
                "layers": [{"index": p.index, "key": p.key(), "in_shape": list(p.in_shape),
                            "out_channels": p.out_channels, "stride": p.stride} for p in self.positions],
                "entries": self.entries, "entry_stats": self.entry_stats, "op_bytes": self.op_bytes,
                "op_macs": self.op_macs}

    @classmethod
    def from_json(cls, data: Any, source: str = "device table") -> "LatencyTable":
        if not isinstance(data, dict) or data.get("format") != TABLE_FORMAT:
            raise LatencyTableError(f"{source} is not a tfnas latency table (no \"format\": \"{TABLE_FORMAT}\"); "
                                    "pass a table written by binaries.profile_latency --build_table")
        if int(data.get("version", -1)) != TABLE_VERSION:
            raise LatencyTableError(f"{source} has table version {data.get('version')}; this tfnas reads "
                                    f"{TABLE_VERSION}: rebuild it with binaries.profile_latency --build_table")
        try:
            profile = profile_for(str(data.get("space")), data["geometry"])
        except UserInputError as e:
            raise LatencyTableError(f"{source}: {e}") from None
        except (KeyError, TypeError, ValueError) as e:
            raise LatencyTableError(f"{source} is malformed ({type(e).__name__}: {e}); rebuild it with "
                                    "binaries.profile_latency --build_table") from None
        try:
            table = cls(profile=profile, num_threads=int(data["num_threads"]),
                        device=dict(data["device"]), litert_version=str(data["litert_version"]),
                        measurement=dict(data["measurement"]),
                        invoke_overhead_ms=float(data.get("invoke_overhead_ms", 0.0)),
                        fixed_ms={k: _entry_value(v) for k, v in data.get("fixed_ms", {}).items()},
                        entries={k: {op: _entry_value(e) for op, e in v.items()}
                                 for k, v in data.get("entries", {}).items()},
                        entry_stats=dict(data.get("entry_stats", {})),
                        op_bytes={k: {op: int(b) for op, b in v.items()} for k, v in data.get("op_bytes", {}).items()},
                        op_macs={k: {op: int(b) for op, b in v.items()} for k, v in data.get("op_macs", {}).items()},
                        created=str(data.get("created", "")))
        except (KeyError, TypeError, ValueError) as e:
            raise LatencyTableError(f"{source} is malformed ({type(e).__name__}: {e}); rebuild it with "
                                    "binaries.profile_latency --build_table") from None
        ladder = len(table.flush_bytes)
        for key, ops in table.entries.items():
            for op, entry in ops.items():
                if op not in profile.vocabulary:
                    raise LatencyTableError(f"{source}: entry {key} names op {op!r}, which is not in the vocabulary "
                                            f"{list(profile.vocabulary)}")
                if isinstance(entry, list) and len(entry) != ladder:
                    raise LatencyTableError(f"{source}: entry {key}/{op} has {len(entry)} values for {ladder} flush "
                                            "sizes; rebuild the table")
        return table

    def save(self, path: str) -> None:
        """Atomic write (a crash mid-save never corrupts the table already on disk)."""
        write_json(path, self.to_json(), indent=None)

    @classmethod
    def load(cls, path: str, space_or_profile: Any = None) -> "LatencyTable":
        """Read a table (measured here or on another device); with a space geometry, refuse another one."""
        profile = None if space_or_profile is None else as_profile(space_or_profile)
        if not path or not os.path.exists(path):
            raise LatencyTableError(f"device table {path!r} does not exist; {_build_hint(profile, path)}")
        with open(path) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise LatencyTableError(f"device table {path} is not valid JSON ({e}); rebuild it") from None
        table = cls.from_json(data, source=path)
        if profile is not None:
            table.check_geometry(profile, path)
        return table


def _entry_value(value: Any) -> Any:
    if isinstance(value, list):
        return [float(v) for v in value]
    return float(value)


# --- measuring ---------------------------------------------------------------------------------------------
def op_model(profile: LayerwiseProfile, position: LayerPosition, op: str) -> keras.Model:
    """A batch-1 model holding one candidate op at one layer position (its real input shape and stride)."""
    inp = keras.Input(position.in_shape, batch_size=1)
    return keras.Model(inp, profile.build_op(position, op)(inp))


def empty_model() -> keras.Model:
    """The smallest model LiteRT will run: its latency is one invocation's fixed overhead."""
    inp = keras.Input((1, 1, 8), batch_size=1)
    return keras.Model(inp, keras.layers.ReLU()(inp))


def touched_bytes(model: keras.Model, expansion: int = 1) -> int:
    """Bytes a one-op model touches per run: float32 weights, input, output and the largest inner tensor.

    The inner tensor is approximated by the input expanded by the op's expansion ratio (the
    inverted residual's hidden tensor), the working set XNNPACK keeps live inside the op.
    """
    weights = model.count_params() * 4
    inp = int(np.prod(model.inputs[0].shape[1:])) * 4
    out = int(np.prod(model.outputs[0].shape[1:])) * 4
    return int(weights + inp + out + (inp * expansion if expansion > 1 else 0))


def flush_ladder(last_level_cache: int, heaviest_network_bytes: int) -> list[int]:
    """The cache states an op is timed in: ``FLUSH_LADDER``'s shape from 0 up to the bytes the heaviest
    network of the space touches, or up to 4x the last-level cache where networks touch more."""
    top = min(FLUSH_LADDER[-1] * last_level_cache, heaviest_network_bytes)
    return [int(f / FLUSH_LADDER[-1] * top) for f in FLUSH_LADDER]


def heaviest_network_bytes(profile: LayerwiseProfile, op_bytes: dict[str, dict[str, int]], ops: Sequence[str]) -> int:
    """Bytes one inference touches when every layer holds its heaviest op among ``ops`` (fixed parts included)."""
    fixed = sum(op_bytes.get("fixed", {}).values())
    return int(fixed + sum(max(op_bytes[p.key()][op] for op in ops) for p in profile.positions))


class CacheFlusher:
    """Reads ``num_bytes`` of memory, evicting what an op would find evicted inside a whole network.

    One word per cache line is read: the cache fills and evicts whole lines, so the lines left
    cached are those a full read leaves (measured: a late inverted residual's cold latency is the
    same either way), for an eighth of the loads.
    """

    def __init__(self, max_bytes: int):
        self._buffer = np.ones(max(1, int(max_bytes) // 8), np.float64)
        self._stride = CACHE_LINE_BYTES // self._buffer.itemsize

    def __call__(self, num_bytes: int) -> None:
        if num_bytes > 0:
            self._buffer[: max(1, int(num_bytes) // 8): self._stride].sum()


def _statistic(times: np.ndarray, statistic: str) -> float:
    if statistic == "median":
        return float(np.median(times))
    if statistic == "p10":
        return float(np.percentile(times, 10))
    if statistic == "min":
        return float(times.min())
    raise LatencyTableError(f"unknown latency statistic {statistic!r}; use one of {list(STATISTICS)}")


def time_model(data: str | bytes, num_threads: int, num_runs: int, warmup_runs: int, flusher: CacheFlusher | None,
               flush_bytes: Sequence[int] = (0,)) -> dict[str, list[float]]:
    """Per flush size: min, p10 and median (ms) of ``num_runs`` timed runs, each after reading that many bytes.

    Runs are interleaved (every flush size once per round), so anything else happening on the machine
    affects all flush sizes alike.
    """
    runner = litert.CompiledRunner(data, num_threads)
    times = np.empty((num_runs, len(flush_bytes)))
    try:
        runner.run(warmup_runs)
        for r in range(num_runs):
            for j, size in enumerate(flush_bytes):
                if flusher is not None:
                    flusher(size)
                times[r, j] = runner.time_runs(1)[0]
    finally:
        runner.close()
    return {name: [_statistic(times[:, j], name) for j in range(len(flush_bytes))] for name in STATISTICS}


def typical_rest_bytes(table: LatencyTable, samples: int = 64, seed: int = 0) -> float:
    """Mean bytes the rest of a random architecture touches around one op (for single-number lookups)."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(samples):
        ops = [str(rng.choice(table.ops_at(i))) for i in range(len(table.positions))]
        total = table.footprint_bytes(ops)
        values += [total - table.op_bytes.get(p.key(), {}).get(op, 0) for p, op in zip(table.positions, ops)]
    return float(np.mean(values)) if values else 0.0


def build_table(space_or_profile: Any, path: str | None = None, ops: Sequence[str] | None = None,
                num_threads: int = 1, num_runs: int = 30, warmup_runs: int = 5, statistic: str = "min",
                flush_bytes: Sequence[int] | None = None, calibration_archs: int = 16,
                log: Callable[[str], None] = print) -> LatencyTable:
    """Measure (or finish measuring) the table of a space geometry on this device; save after every position.

    ``flush_bytes`` is the ladder of cache states (default: ``flush_ladder``, 0 up to what the
    heaviest network of ``ops`` touches, at most 4x the last-level cache; a table extended later
    with heavier ops keeps its ladder and reads their coldest states at its top).
    ``calibration_archs`` random whole networks (seed ``CALIBRATION_SEED``) are then measured and a
    scale and an offset fitted to them calibrate the table (``fit_calibration``). With
    ``path`` pointing at an existing table of the same geometry, thread count, statistic and device,
    only missing entries are measured (an interrupted build resumes; a finished one is returned as
    is). A table at ``path`` from another device or geometry is never mixed in: that is an error.
    """
    profile = as_profile(space_or_profile)
    ops = tuple(ops or profile.vocabulary)
    for op in ops:
        profile.parse_op(op)
    if statistic not in STATISTICS:
        raise LatencyTableError(f"unknown latency statistic {statistic!r}; use one of {list(STATISTICS)}")
    table = _open_table(profile, path, num_threads, statistic, num_runs, warmup_runs, log)

    def save():
        if path:
            table.save(path)

    with tempfile.TemporaryDirectory(prefix="tfnas_latency_table_") as stash:
        models = _convert_missing(table, ops, stash)
        if "flush_bytes" not in table.measurement:
            llc = table.measurement["last_level_cache_bytes"]
            heaviest = heaviest_network_bytes(profile, table.op_bytes, ops)
            table.measurement["flush_bytes"] = (flush_ladder(llc, heaviest) if flush_bytes is None
                                                else sorted({int(b) for b in flush_bytes}))
            table.measurement["heaviest_network_bytes"] = heaviest
            log(f"cache states: {[round(b / 2**20, 2) for b in table.flush_bytes]} MiB (heaviest network "
                f"{heaviest / 2**20:.2f} MiB, last-level cache {llc / 2**20:.0f} MiB)")
            save()
        _time_missing(table, ops, models, num_threads, log, save)
    table.measurement["typical_rest_bytes"] = typical_rest_bytes(table)
    if calibration_archs > 0 and "calibration" not in table.measurement and set(ops) == set(profile.vocabulary):
        table.measurement["calibration"] = calibrate(table, calibration_archs,
                                                     runs=max(table.measurement["num_runs"], 100), log=log)
    save()
    return table


def _open_table(profile: LayerwiseProfile, path: str | None, num_threads: int, statistic: str, num_runs: int,
                warmup_runs: int, log: Callable[[str], None]) -> LatencyTable:
    """The table at ``path`` to resume (refused when measured elsewhere or differently), or a new one."""
    device = litert.device_identity()
    if path and os.path.exists(path):
        table = LatencyTable.load(path, profile)
        mismatch = []
        if table.device != device:
            mismatch.append(f"it was measured on {table.device}, this is {device}")
        if table.num_threads != num_threads:
            mismatch.append(f"it used {table.num_threads} threads, not {num_threads}")
        if table.measurement.get("statistic") != statistic:
            mismatch.append(f"it records the {table.measurement.get('statistic')} latency, not the {statistic}")
        if mismatch:
            raise LatencyTableError(f"{path} already holds a table that cannot be extended here ({'; '.join(mismatch)}); "
                                    "pass another --output (or delete that file to measure afresh)")
        log(f"resuming latency table {path}")
        table.measurement.setdefault("last_level_cache_bytes", last_level_cache_bytes())
        return table
    return LatencyTable(
        profile=profile, num_threads=num_threads, device=device, litert_version=litert.litert_version(),
        measurement={"method": "in_process", "scheme": "one-op models timed after reading flush_bytes of memory",
                     "statistic": statistic, "num_runs": num_runs, "warmup_runs": warmup_runs,
                     "last_level_cache_bytes": last_level_cache_bytes(),
                     "eviction": f"one read per {CACHE_LINE_BYTES}-byte cache line"},
        created=time.strftime("%Y-%m-%dT%H:%M:%S"))


def _unique_positions(profile: LayerwiseProfile) -> list[LayerPosition]:
    seen: dict[str, LayerPosition] = {}
    for position in profile.positions:
        seen.setdefault(position.key(), position)
    return list(seen.values())


def _convert_missing(table: LatencyTable, ops: Sequence[str], stash: str) -> dict[tuple[str, str], str]:
    """Convert every fixed part and op the table still lacks to TFLite (files in ``stash``) and record
    the bytes and MACs of each; returns (position key or "fixed", name) -> file."""
    profile = table.profile
    models: dict[tuple[str, str], str] = {}

    def keep(key: str, name: str, model: keras.Model) -> None:
        file = os.path.join(stash, f"{len(models)}.tflite")
        with open(file, "wb") as f:
            f.write(export.convert(model))
        models[(key, name)] = file
        keras.backend.clear_session()

    fixed_bytes = table.op_bytes.setdefault("fixed", {})
    for name, builder in profile.fixed_models.items():
        if name not in table.fixed_ms:
            model = builder()
            fixed_bytes[name] = touched_bytes_fixed(model)
            keep("fixed", name, model)
    for position in _unique_positions(profile):
        key = position.key()
        row = table.entries.get(key, {})
        for op in ops:
            if op not in row:
                model = op_model(profile, position, op)
                table.op_bytes.setdefault(key, {})[op] = touched_bytes(model, profile.op_expansion(op))
                table.op_macs.setdefault(key, {})[op] = profile.op_macs(position, op)
                keep(key, op, model)
    return models


def _time_missing(table: LatencyTable, ops: Sequence[str], models: dict[tuple[str, str], str], num_threads: int,
                  log: Callable[[str], None], save: Callable[[], None]) -> None:
    """Time every converted model along the table's cache-state ladder; save after the fixed parts and
    after each layer position."""
    ladder, statistic = table.flush_bytes, table.measurement["statistic"]
    runs, warmups = table.measurement["num_runs"], table.measurement["warmup_runs"]
    flusher = CacheFlusher(max(ladder))
    if "invoke_overhead" not in table.measurement:
        # The empty model is timed without flushing: its latency is pure call overhead.
        stats = time_model(export.convert(empty_model()), num_threads, max(runs, 100), warmups, None, (0,))
        table.measurement["invoke_overhead"] = {name: v[0] for name, v in stats.items()}
        table.invoke_overhead_ms = table.measurement["invoke_overhead"][statistic]
    overhead = table.measurement["invoke_overhead"]

    def measure(key: str, name: str) -> dict[str, list[float]]:
        stats = time_model(models[(key, name)], num_threads, runs, warmups, flusher, ladder)
        return {stat: [max(0.0, v - overhead[stat]) for v in values] for stat, values in stats.items()}

    for name in table.profile.fixed_models:
        if name not in table.fixed_ms:
            stats = measure("fixed", name)
            table.fixed_ms[name] = stats[statistic]
            table.entry_stats.setdefault("fixed", {})[name] = stats
            log(f"{name}: {table.fixed_ms[name][0]:.4f} ms warm, {table.fixed_ms[name][-1]:.4f} ms cold")
            save()
    for position in _unique_positions(table.profile):
        key = position.key()
        row = table.entries.setdefault(key, {})
        todo = [op for op in ops if op not in row]
        for op in todo:
            stats = measure(key, op)
            row[op] = stats[statistic]
            table.entry_stats.setdefault(key, {})[op] = stats
        if todo:
            warm = {op: row[op][0] for op in row}
            log(f"layer position {key}: measured {len(todo)} ops; warm fastest {min(warm, key=warm.get)} "
                f"{min(warm.values()):.4f} ms, cold slowest {max(row, key=lambda o: row[o][-1])} "
                f"{max(v[-1] for v in row.values()):.4f} ms")
            save()


CALIBRATION_SEED = 7919  # not the seed of benchmarks/latency_model.py: calibration and evaluation never share networks


MIN_ARCHS_FOR_OFFSET = 6  # below this the offset is too noisy to fit: a scale alone


def fit_calibration(predicted: Sequence[float], measured: Sequence[float]) -> tuple[float, float]:
    """Scale and offset (ms) with measured ~= scale * predicted + offset, least squares in relative error.

    The table sums one-op models, and each of them pays costs a whole network pays once or overlaps
    (per-op dispatch, cache-line refills at layer boundaries): the sum over-predicts by a device-wide
    factor plus a part that does not grow with the network, hence a scale and an offset. Relative
    error is what the latency limit cares about (a 0.1 ms miss matters on a 0.2 ms network, not on a
    20 ms one). With fewer than ``MIN_ARCHS_FOR_OFFSET`` networks, or where the fitted line would
    predict a non-positive latency for a network half the size of the smallest one calibrated on (a
    margin for networks smaller than the sample), the fit is the median ratio alone (offset 0).
    """
    p = np.asarray(predicted, dtype=np.float64)
    m = np.asarray(measured, dtype=np.float64)
    if len(p) != len(m) or len(p) == 0 or np.any(p <= 0) or np.any(m <= 0):
        raise LatencyTableError("calibration needs one positive prediction and one positive measurement per network")
    median_scale = float(np.median(m / p))
    if len(p) < MIN_ARCHS_FOR_OFFSET:
        return median_scale, 0.0
    design = np.stack([p, np.ones_like(p)], axis=1) / m[:, None]
    (scale, offset), *_ = np.linalg.lstsq(design, np.ones_like(p), rcond=None)
    if scale <= 0 or scale * 0.5 * p.min() + offset <= 0:
        return median_scale, 0.0
    return float(scale), float(offset)


def calibrate(table: LatencyTable, num_archs: int, runs: int = 100, seed: int = CALIBRATION_SEED,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Calibrate the table on ``num_archs`` random whole networks: ``fit_calibration`` of measured on predicted.

    What is left after the cache model is device-wide (one-op models pay for memory and dispatch a
    little differently than a network does, e.g. through prefetching across layer boundaries): one
    increasing line corrects it without changing the ranking of architectures.
    """
    rng = np.random.default_rng(seed)
    statistic = table.measurement["statistic"]
    predicted, measured_ms = [], []
    for _ in range(num_archs):
        ops = [cands[int(rng.integers(len(cands)))] for cands in (table.ops_at(i) for i in range(len(table.positions)))]
        measured = measure_network(table.profile.build_network(ops), table.num_threads, num_runs=runs,
                                   warmup_runs=5)
        keras.backend.clear_session()
        predicted.append(table.predict_uncalibrated(ops))
        measured_ms.append(measured.statistic(statistic))
    scale, offset = fit_calibration(predicted, measured_ms)
    ratios = [m / p for m, p in zip(measured_ms, predicted)]
    log(f"calibration over {num_archs} networks: measured = {scale:.3f} x predicted {offset:+.4f} ms "
        f"(measured / predicted {min(ratios):.3f}-{max(ratios):.3f})")
    return {"scale": scale, "offset_ms": offset, "archs": num_archs, "seed": seed, "runs": runs,
            "ratios": [float(r) for r in ratios], "predicted_ms": [float(v) for v in predicted],
            "measured_ms": [float(v) for v in measured_ms]}


def touched_bytes_fixed(model: keras.Model) -> int:
    """Bytes the stem or head touches per run: float32 weights, input and output."""
    return int(model.count_params() * 4 + 4 * (np.prod(model.inputs[0].shape[1:]) + np.prod(model.outputs[0].shape[1:])))


def measure_network(model: keras.Model, num_threads: int = 1, num_runs: int = 100,
                    warmup_runs: int = 10) -> litert.LatencyMeasurement:
    """Export ``model`` to TFLite and measure it with LiteRT (back-to-back runs)."""
    return litert.measure_latency(export.convert(model), num_threads=num_threads, num_runs=num_runs,
                                  warmup_runs=warmup_runs)


def measure_architecture(genotype: Any, num_classes: int, input_channels: int, num_threads: int = 1,
                         num_runs: int = 100, warmup_runs: int = 10) -> litert.LatencyMeasurement:
    """Measure the child network of ``genotype`` (any space whose network fixes its input resolution)."""
    from tfnas.spaces.networks import network_builder

    builder = network_builder(genotype.SPACE)
    size = builder.input_size(genotype) if builder.input_size else None
    if size is None:
        raise LatencyTableError(f"a {genotype.SPACE} genotype does not fix its input size; measure its exported "
                                "model with binaries.profile_latency --tflite=<model.tflite>")
    model = builder.build(genotype, num_classes, (size, size, input_channels), layers=None, init_channels=None)
    return measure_network(model, num_threads, num_runs, warmup_runs)
