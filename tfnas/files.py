"""Result files that survive interruption.

Every JSON or binary result tfnas writes (run configs, histories, search states, genotypes, latency
tables, exported models) goes to a temporary file renamed over the target, so a crash or Ctrl-C
never leaves a torn file where a good one was: a resumed run reads either the old or the new one.
"""
from __future__ import annotations

import json
import os
from typing import Any


def write_bytes(path: str, data: bytes) -> None:
    """Atomic write of ``data`` to ``path`` (its directory is created if needed)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_json(path: str, data: Any, indent: int | None = 2) -> None:
    """Atomic JSON write; numpy scalars and arrays are written as plain numbers and lists."""
    write_bytes(path, json.dumps(data, indent=indent, default=_json_default).encode("utf-8"))


def as_json(data: Any) -> Any:
    """``data`` exactly as it will read back from a JSON file (tuples as lists, numpy as plain numbers),
    so a value about to be saved can be compared with one that was loaded."""
    return json.loads(json.dumps(data, default=_json_default))


def read_json(path: str, default: Any = None) -> Any:
    """The parsed file, or ``default`` when it does not exist (a run that has not written it yet)."""
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
