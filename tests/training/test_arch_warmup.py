"""Architecture warm-up: weights-only epochs before the architecture moves, resumable by epoch."""
from __future__ import annotations

import pytest
import tensorflow as tf

from tfnas.configs.differentiable import SearchConfig
from tfnas.errors import ConfigError
from tfnas.training.arch_warmup import ArchitectureWarmup, architecture_learning_rate_at

keras = tf.keras


def test_the_rate_is_zero_in_the_warmup_epochs_and_the_search_rate_after():
    assert [architecture_learning_rate_at(e, 2, 0.3) for e in range(4)] == [0.0, 0.0, 0.3, 0.3]
    assert architecture_learning_rate_at(0, 0, 0.3) == 0.3


def test_a_resumed_search_starts_in_the_right_phase():
    """Keras calls on_epoch_begin(start_epoch) first on a resumed fit: the rate follows the epoch, not
    what the optimizer held when the run was killed."""
    optimizer = keras.optimizers.Adam(0.3)
    callback = ArchitectureWarmup(optimizer, warmup_epochs=2, rate=0.3)
    callback.on_epoch_begin(1)  # killed in the warm-up, resumed in it
    assert float(optimizer.learning_rate.numpy()) == 0.0
    callback.on_epoch_begin(2)  # the first architecture epoch
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(0.3)


def test_the_warmup_must_leave_architecture_epochs(tmp_path):
    with pytest.raises(ConfigError, match="--arch_warmup_epochs"):
        SearchConfig(output_dir=str(tmp_path), epochs=3, arch_warmup_epochs=3).validate()
    with pytest.raises(ConfigError, match="--arch_warmup_epochs"):
        SearchConfig(output_dir=str(tmp_path), epochs=3, arch_warmup_epochs=-1).validate()


def test_an_architecture_step_budget_spreads_over_the_architecture_epochs(tmp_path):
    config = SearchConfig(output_dir=str(tmp_path), epochs=10, arch_warmup_epochs=4, arch_step_budget=30.0)
    assert config.resolved_arch_learning_rate(steps_per_epoch=5) == pytest.approx(30.0 / (6 * 5))
