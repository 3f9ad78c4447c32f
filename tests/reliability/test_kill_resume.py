"""kill -9 the discrete searches, train, Single-DARTS and DARTS at two points, rerun: the same result as a run
never killed (the harness and what it checks: tests/reliability/kill_harness.py; the other binaries
are in test_kill_resume_*.py, so that the two test workers share them)."""
from __future__ import annotations

import os

import pytest

from kill_harness import GROUPS, SPECS, check_killed_runs_resume


def test_every_binary_is_killed_in_exactly_one_file():
    names = [name for group in GROUPS.values() for name in group]
    assert sorted(names) == sorted(SPECS)
    here = os.path.dirname(os.path.abspath(__file__))
    assert all(os.path.exists(os.path.join(here, test_file)) for test_file in GROUPS)


@pytest.mark.parametrize("name", sorted(GROUPS[os.path.basename(__file__)]))
def test_killed_runs_resume_to_the_same_result(name, tmp_path, kill_inputs):
    check_killed_runs_resume(name, tmp_path, kill_inputs)
