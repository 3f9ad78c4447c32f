"""One BATS search step (single-level: the binary supernet is what BATS adds; the bi-level mechanics are
test_distribution_mirrored.py's DARTS cases) under MirroredStrategy (2 virtual CPU devices) equals the
one-device step.

The other supernets: test_distribution_mirrored.py (the same checks, tests/training/mirrored_checks.py);
BATS runs in its own file so that the two test workers share the measurements.
"""
from __future__ import annotations

import pytest

from mirrored_checks import check_architecture_variables_identical, check_step_equals_one_device_step, measure


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    return measure(tmp_path_factory, ("bats",))


def test_mirrored_step_equals_the_one_device_step(measured):
    check_step_equals_one_device_step(measured, "bats")


def test_architecture_variables_are_identical_on_both_replicas(measured):
    check_architecture_variables_identical(measured, "bats")
