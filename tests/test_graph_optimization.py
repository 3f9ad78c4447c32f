"""--graph_optimization: what a job runs under, and that the caller's setting comes back afterwards."""
from __future__ import annotations

import dataclasses

import pytest
import tensorflow as tf

from tfnas.configs.train import TrainConfig
from tfnas.errors import ConfigError
from tfnas.graph_optimization import applies_config_graph_optimization, graph_optimization


def _grappler_off() -> bool:
    return bool(tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False))


def test_light_turns_grappler_off_for_the_block_and_restores_it_also_after_an_error():
    assert not _grappler_off()
    with graph_optimization("light"):
        assert _grappler_off()
        with graph_optimization("full"):  # full keeps what the caller chose
            assert _grappler_off()
        assert _grappler_off()
    assert not _grappler_off()
    with pytest.raises(RuntimeError):
        with graph_optimization("light"):
            raise RuntimeError("a failing job")
    assert not _grappler_off()


@dataclasses.dataclass
class _Config:
    graph_optimization: str


def test_a_job_runs_under_its_configs_setting_and_an_unknown_value_is_left_to_its_validation():
    seen = []

    @applies_config_graph_optimization
    def job(config, extra=0):
        seen.append(_grappler_off())
        return extra + 1

    assert job(_Config("light"), extra=2) == 3 and job(_Config("full")) == 1 and job(_Config("fast")) == 1
    assert seen == [True, False, False] and not _grappler_off()


def test_an_unknown_value_is_one_clear_config_error():
    config = TrainConfig(output_dir="/tmp/unused", genotype="g.json", graph_optimization="fast")
    with pytest.raises(ConfigError, match="--graph_optimization must be one of full, light, got 'fast'"):
        config.validate()
