"""The default progress output: one line per epoch with rounded metrics, elapsed time and time left."""
from __future__ import annotations

import re

import numpy as np

import tfnas  # noqa: F401
import tensorflow as tf

from tfnas.training.progress import EpochProgress, fit_verbosity


def test_one_rounded_line_per_epoch_with_time_left():
    lines: list[str] = []
    model = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=["mae"])
    x, y = np.random.RandomState(0).rand(16, 3), np.random.RandomState(1).rand(16, 2)
    model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y),
              callbacks=[EpochProgress("demo", 3, print_fn=lines.append)])
    assert len(lines) == 3
    assert lines[0].startswith("demo epoch 1/3  loss ") and "val_loss" in lines[0]
    assert all(re.search(r"\d:\d\d elapsed, ~\d:\d\d left$", line) for line in lines[:2])
    assert lines[2].endswith("elapsed")
    numbers = re.findall(r"loss (\S+)", lines[0])
    assert all(len(n.replace(".", "").lstrip("0")) <= 4 for n in numbers)  # 4 significant digits, not 16


def test_keras_verbosity_is_kept_at_0_and_1():
    assert fit_verbosity(0, "x", 3) == (0, []) and fit_verbosity(1, "x", 3) == (1, [])
    keras_verbose, callbacks = fit_verbosity(2, "x", 3)
    assert keras_verbose == 0 and isinstance(callbacks[0], EpochProgress)
