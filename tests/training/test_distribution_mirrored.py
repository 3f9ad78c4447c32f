"""One supernet train step under MirroredStrategy (2 virtual CPU devices) equals the one-device step.

The two logical devices must exist before TensorFlow initialises, which this pytest process did
long ago, so the steps run in one subprocess (tests/training/mirrored_steps.py) and these tests
read what it measured: per supernet, the largest relative difference of any trained variable
(weights and architecture variables) from the one-device step on the same global batch, whether
both replicas hold identical copies, and the path each replica drew. BATS is measured by
test_distribution_mirrored_bats.py (tests/training/mirrored_checks.py: what both check).
"""
from __future__ import annotations

import pytest

from mirrored_checks import (CASES, SAMPLED, check_architecture_variables_identical, check_replicas_train_the_one_device_path,
                             check_step_equals_one_device_step, measure)

HERE_CASES = tuple(c for c in CASES if c != "bats")


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    return measure(tmp_path_factory, HERE_CASES)


@pytest.mark.parametrize("case", HERE_CASES)
def test_mirrored_step_equals_the_one_device_step(measured, case):
    check_step_equals_one_device_step(measured, case)


@pytest.mark.parametrize("case", ("single_darts", "darts_first_order", "darts_second_order"))
def test_architecture_variables_are_identical_on_both_replicas(measured, case):
    check_architecture_variables_identical(measured, case)


@pytest.mark.parametrize("case", SAMPLED)
def test_every_replica_trains_the_path_of_the_one_device_step(measured, case):
    check_replicas_train_the_one_device_path(measured, case)
