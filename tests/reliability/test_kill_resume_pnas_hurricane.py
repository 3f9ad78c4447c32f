"""kill -9 the searches that train child networks or a single-path supernet (PNAS on images, HURRICANE)
at two points, rerun: the same result as a run never killed (tests/reliability/kill_harness.py)."""
from __future__ import annotations

import os

import pytest

from kill_harness import GROUPS, check_killed_runs_resume


@pytest.mark.parametrize("name", sorted(GROUPS[os.path.basename(__file__)]))
def test_killed_runs_resume_to_the_same_result(name, tmp_path, kill_inputs):
    check_killed_runs_resume(name, tmp_path, kill_inputs)
