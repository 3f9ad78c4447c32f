"""Shared fixtures: tiny configurations on the real embedded data, no network."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tfnas  # noqa: E402,F401  (Keras 2 before TensorFlow)

import pytest  # noqa: E402

BENCHDATA = os.environ.get("TFNAS_BENCHDATA", os.path.join(os.path.dirname(ROOT), "shared", "benchdata"))


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory) -> str:
    """One tfds data_dir per test session; the embedded datasets are prepared into it on first use."""
    return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="session")
def mnist(tfds_dir):
    """The embedded MNIST subset (4,000 train / 1,000 test real images), loaded once."""
    from tfnas.data import load_image_data

    return load_image_data("mnist_embedded", data_dir=tfds_dir)


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """1,000 training and 500 test images of the embedded MNIST subset, for quick training checks."""
    import dataclasses

    return dataclasses.replace(mnist, train_images=mnist.train_images[:1000], train_labels=mnist.train_labels[:1000],
                               test_images=mnist.test_images[:500], test_labels=mnist.test_labels[:500])
