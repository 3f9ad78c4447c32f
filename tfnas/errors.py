"""User-facing errors: bad input ends with one clear message naming the input and the fix.

Library code raises subclasses of ``UserInputError`` (a ValueError) for anything a user can fix
(unknown dataset, malformed genotype, mismatched resume settings, infeasible constraint...).
Binaries wrap their work in ``exit_on_user_error`` so such errors print one line, not a
traceback, and exit with status 2; bugs still show their traceback.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Iterator


class UserInputError(ValueError):
    """Bad input a user can fix; the message names the input and the fix."""


class ConfigError(UserInputError):
    """Flags that do not fit together."""


class LatencyTableError(UserInputError):
    """A device table that is missing, malformed, incomplete, or built for another geometry."""


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss; what was computed before is kept."""


@contextlib.contextmanager
def exit_on_user_error() -> Iterator[None]:
    try:
        yield
    except (UserInputError, TrainingDiverged) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.stderr.flush()
        raise SystemExit(2) from None
