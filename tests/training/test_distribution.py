"""--distribution's checks and who writes a multi-worker run's files (no cluster is started here)."""
from __future__ import annotations

import json

import pytest

from tfnas.errors import ConfigError
from tfnas.training.distribution import strategy_for, validate_distribution, writes_run_files


def _cluster(monkeypatch, task, cluster=None):
    cluster = cluster or {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))


@pytest.mark.parametrize("tf_config, message", [
    ("{not json", "TF_CONFIG is not valid JSON"),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}), "is not in its cluster"),
    (json.dumps({"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": "worker", "index": 0}}),
     "parameter servers"),
])
def test_an_unusable_tf_config_is_refused_in_one_line(monkeypatch, tf_config, message):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ConfigError, match=message):
        validate_distribution("multi_worker")


def test_unknown_strategy_is_refused():
    with pytest.raises(ConfigError, match="unknown --distribution 'ring'"):
        strategy_for("ring")


def test_only_the_chief_writes_a_multi_worker_run(monkeypatch):
    _cluster(monkeypatch, {"type": "worker", "index": 0})
    assert writes_run_files("multi_worker")
    _cluster(monkeypatch, {"type": "worker", "index": 1})
    assert not writes_run_files("multi_worker")
    assert writes_run_files("mirrored")  # one process: it writes
    _cluster(monkeypatch, {"type": "worker", "index": 0}, {"chief": ["127.0.0.1:3"], "worker": ["127.0.0.1:1"]})
    assert not writes_run_files("multi_worker")
    _cluster(monkeypatch, {"type": "chief", "index": 0}, {"chief": ["127.0.0.1:3"], "worker": ["127.0.0.1:1"]})
    assert writes_run_files("multi_worker")
    monkeypatch.delenv("TF_CONFIG")
    assert writes_run_files("multi_worker")  # no cluster: one local worker


def test_training_a_child_on_a_cluster_is_refused_before_any_work(tmp_path):
    from tfnas.training.trainer import TrainConfig

    config = TrainConfig(output_dir=str(tmp_path / "out"), genotype=str(tmp_path / "genotype.json"),
                         distribution="multi_worker")
    with pytest.raises(ConfigError, match="train runs in one process"):
        config.validate()
    assert not (tmp_path / "out").exists()
