"""Result and state files that survive interruption and corruption.

Every JSON or binary result tfnas writes (run configs, histories, search states, genotypes, latency
tables, exported models) goes to a temporary file renamed over the target, so a crash or Ctrl-C
never leaves a torn file where a good one was: a resumed run reads either the old or the new one.

State a run resumes from (a searcher's state, the epoch history) is written with ``write_state``,
which keeps the previous version beside the new one (``<name>.prev``); ``read_state`` validates the
newest and falls back to the previous with a one-line warning when the newest is cut, emptied or of
the wrong shape (a disk that filled up, a copy that was interrupted, a hand edit), and fails with
one clear line naming the file when neither is intact: never a traceback, never a silent restart.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from typing import Any, Callable

from tfnas.errors import UserInputError

PREVIOUS_SUFFIX = ".prev"
log = logging.getLogger("tfnas")


class CorruptStateError(UserInputError):
    """A state or result file that cannot be read, with no intact version to fall back to."""


KILL_AT_ENV = "TFNAS_KILL_AT"
"""Fault injection for the kill -9 tests (tests/reliability): ``name:n[:phase],...`` makes the process
SIGKILL itself at its n-th write of a file called ``name``, before the write (``phase`` "before"),
between the temporary file and the rename ("torn") or after it (default "after"). Unset: no effect."""
_writes: dict[str, int] = {}


def _fault_point(path: str, phase: str) -> None:
    spec = os.environ.get(KILL_AT_ENV)
    if not spec:
        return
    name = os.path.basename(path)
    for point in spec.split(","):
        target, count, *rest = point.split(":")
        if target == name and (rest[0] if rest else "after") == phase and _writes.get(name, 0) == int(count):
            import signal

            os.kill(os.getpid(), signal.SIGKILL)


FSYNC = os.environ.get("TFNAS_FSYNC", "0") == "1"
"""fsync every write before its rename (``TFNAS_FSYNC=1``): only a power cut or an OS crash needs it.

The write-then-rename below already survives a killed process (the page cache outlives it), and a
state file torn by a power cut is caught on read and replaced by its ``.prev`` version; a tabular
search writes its state after every result, and one fsync per write was most of its run time.
"""


def write_bytes(path: str, data: bytes) -> None:
    """Atomic write of ``data`` to ``path`` (its directory is created if needed)."""
    name = os.path.basename(path)
    _writes[name] = _writes.get(name, 0) + 1
    _fault_point(path, "before")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        if FSYNC:
            f.flush()
            os.fsync(f.fileno())
    _fault_point(path, "torn")
    os.replace(tmp, path)
    _fault_point(path, "after")


def write_json(path: str, data: Any, indent: int | None = 2) -> None:
    """Atomic JSON write; numpy scalars and arrays are written as plain numbers and lists."""
    write_bytes(path, json.dumps(data, indent=indent, default=_json_default).encode("utf-8"))


def as_json(data: Any) -> Any:
    """``data`` exactly as it will read back from a JSON file (tuples as lists, numpy as plain numbers),
    so a value about to be saved can be compared with one that was loaded."""
    return json.loads(json.dumps(data, default=_json_default))


def read_json(path: str, default: Any = None) -> Any:
    """The parsed file, or ``default`` when it does not exist (a run that has not written it yet).

    A file that exists but is not valid JSON is a ``CorruptStateError`` naming it.
    """
    if not os.path.exists(path):
        return default
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptStateError(f"{path} is corrupt ({type(e).__name__}: {e}); delete it to recompute it, or "
                                "pass --fresh to move the run aside and start over") from None


def write_state(path: str, data: Any) -> None:
    """Write resumable state, keeping the version it replaces as ``<path>.prev``.

    ``path`` exists at every instant (the old version until the new one is renamed over it): a
    process killed mid-write leaves the newest complete state under ``path``, not only its
    predecessor under ``.prev``. The old version becomes ``.prev`` through a hard link (a copy where
    the file system has none) before the new one is written.
    """
    if os.path.exists(path):
        staged = path + PREVIOUS_SUFFIX + ".tmp"
        if os.path.lexists(staged):
            os.remove(staged)
        try:
            os.link(path, staged)
        except OSError:
            shutil.copyfile(path, staged)
        os.replace(staged, path + PREVIOUS_SUFFIX)
    write_json(path, data, indent=None)


def read_state(path: str, validate: Callable[[Any], Any] | None = None, default: Any = None) -> Any:
    """The newest intact version of a state file written by ``write_state``, validated.

    ``validate(data)`` returns what to use (or raises ValueError / KeyError / TypeError for data of
    the wrong shape). The newest file is tried first, then ``<path>.prev`` (with a warning naming
    what was skipped and why). ``default`` when neither exists; ``CorruptStateError`` when files
    exist but none is intact.
    """
    problems = []
    for candidate in (path, path + PREVIOUS_SUFFIX):
        if not os.path.exists(candidate):
            continue
        try:
            with open(candidate) as f:
                data = json.load(f)
            result = validate(data) if validate is not None else data
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError) as e:
            problems.append(f"{candidate}: {type(e).__name__}: {e}")
            continue
        if problems:
            log.warning("skipped corrupt %s; resumed from the intact previous version %s", problems[0], candidate)
        return result
    if problems:
        raise CorruptStateError(f"no intact version of {path} ({'; '.join(problems)}); pass --fresh to move the run "
                                "aside and start over (nothing is deleted)")
    return default


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
