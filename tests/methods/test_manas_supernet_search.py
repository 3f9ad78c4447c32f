"""MANAS' supernet mode end to end on the embedded data: outputs and TensorBoard, the same paths from the
same seed, exact resume after a kill between rounds, and the found per-cell genotype trains at its own
depth (another --layers is one clear error) and exports."""
from __future__ import annotations

import glob
import json
import os

import pytest

import tfnas  # noqa: F401
import tensorflow as tf

from tfnas.methods.manas import ManasConfig, run_manas_search
from tfnas.spaces.base import load_genotype
from tfnas.spaces.networks import DepthFixedByGenotype

TINY = dict(dataset="mnist_embedded", image_size=8, layers=3, init_channels=2, batch_size=16, epochs=2,
            steps_per_epoch=3, checkpoint_every=2)  # 3 rounds per epoch, 6 in all, 42 agents


def config(out, tfds_dir, **kw) -> ManasConfig:
    return ManasConfig(output_dir=str(out), data_dir=tfds_dir, **{**TINY, **kw})


def read(out, name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


def tags(logdir):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    out = {}
    for path in glob.glob(os.path.join(logdir, "events.*")):
        for event in EventFileLoader(path).Load():
            for value in event.summary.value:
                out.setdefault(value.tag, []).append(event.step)
    return out


@pytest.fixture
def deterministic():
    tf.config.experimental.enable_op_determinism()
    yield
    if hasattr(tf.config.experimental, "disable_op_determinism"):
        tf.config.experimental.disable_op_determinism()


class Killed(Exception):
    pass


def test_search_outputs_and_a_kill_between_rounds_resumes_to_the_same_genotype(tmp_path, tfds_dir, deterministic):
    whole = run_manas_search(config(tmp_path / "whole", tfds_dir, agent="exp3", seed=1, eta=0.5))
    assert whole["mode"] == "supernet" and whole["rounds"] == 6 and whole["agents_count"] == 42
    assert [h["round"] for h in whole["history"]] == [1, 2, 3, 4, 5, 6]
    assert len({h["path"] for h in whole["history"]}) == 6 and all(len(h["path"]) == 42 for h in whole["history"])
    assert all(0 <= h["loss"] <= 1 and h["val_loss"] > 0 for h in whole["history"])
    genotype = load_genotype(str(tmp_path / "whole" / "genotype.json"), expected_space="manas")
    assert genotype.layers == 3 and whole["genotype"] == genotype.to_json()

    def kill_after(n):
        if n == 3:  # the last checkpoint holds round 2: round 3 is replayed on resume
            raise Killed

    part = tmp_path / "part"
    with pytest.raises(Killed):
        run_manas_search(config(part, tfds_dir, agent="exp3", seed=1, eta=0.5), after_round=kill_after)
    assert [h["round"] for h in read(part, "history.json")] == [1, 2]
    resumed = run_manas_search(config(part, tfds_dir, agent="exp3", seed=1, eta=0.5))  # the same command again
    assert resumed["history"] == whole["history"]  # same seed: the same paths, losses and learning rates
    assert resumed["agents"] == whole["agents"] and resumed["genotype"] == whole["genotype"]
    other = run_manas_search(config(tmp_path / "other", tfds_dir, agent="exp3", seed=2, eta=0.5, epochs=1))
    assert [h["path"] for h in other["history"]] != [h["path"] for h in whole["history"][:3]]


def test_least_squares_run_shows_every_cell_in_tensorboard_and_its_genotype_trains_and_exports(tmp_path, tfds_dir):
    from tfnas.hardware.trained_export import export_model_dir
    from tfnas.training.trainer import TrainConfig, train_genotype

    out = tmp_path / "ls"
    summary = run_manas_search(config(out, tfds_dir, agent="least_squares", epochs=1, heatmap_every=2))
    board = tags(str(out / "tensorboard" / "manas"))
    assert board["manas/val_loss"] == [1, 2, 3] and board["manas/loss"] == [1, 2, 3]
    for cell in ("cell0", "cell1", "cell2"):
        assert board[f"manas/probabilities/{cell}"] == [1, 2, 3]  # first, every 2nd, last round
        assert board[f"manas/ls_contributions/{cell}"] == [1, 2, 3]
        assert board[f"manas/entropy/{cell}"] == [1, 2, 3]
    assert board["manas/agent_entropy"] == [1, 2, 3] and board["train/loss"] == [1, 2, 3]
    choices = summary["agents"]["choices"]
    assert len(choices) == 42 and "ls_contributions" in choices["cell2/n3<-n2"]

    genotype_path = str(out / "genotype.json")
    train = dict(output_dir=str(tmp_path / "train"), genotype=genotype_path, data_dir=tfds_dir, image_size=8,
                 batch_size=16, epochs=1, steps_per_epoch=2, init_channels=4, drop_path=0.0, cutout=0,
                 auxiliary=False, verbose=0)
    with pytest.raises(DepthFixedByGenotype, match="fixes the depth at 3 cells.*--layers=8"):
        train_genotype(TrainConfig(**{**train, "layers": 8}))
    assert not os.path.exists(tmp_path / "train" / "checkpoints")  # refused before any work
    trained = train_genotype(TrainConfig(**train))
    facts = export_model_dir(trained["model_dir"], "tflite", str(tmp_path / "model.tflite"))
    assert facts["size_bytes"] == os.path.getsize(tmp_path / "model.tflite") > 0
