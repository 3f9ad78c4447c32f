"""MANAS' supernet mode end to end on the embedded data: outputs and TensorBoard, the same paths from the
same seed, exact resume after a kill between rounds, and the found per-cell genotype trains at its own
depth (another --layers is one clear error) and exports."""
from __future__ import annotations

import glob
import json
import os

import pytest

import tfnas  # noqa: F401

from tfnas.methods.manas import ManasConfig, run_manas_search
from tfnas.spaces.base import load_genotype
from tfnas.spaces.networks import DepthFixedByGenotype

OPS = ("none", "skip_connect", "max_pool_3x3", "sep_conv_3x3")  # zero, identity / reduce, pool + BN, conv
TINY = dict(dataset="mnist_embedded", image_size=8, layers=3, init_channels=2, batch_size=16, epochs=2,
            steps_per_epoch=2, checkpoint_every=2, ops=OPS, checkpoint_cells=False,
            heatmap_every=100)  # 4 rounds, 42 agents over 4 ops; heatmaps (~1 s each) at the first and last round
# (recomputing cells in backward is checked against keeping activations in tests/supernets/test_manas_supernet.py)


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


class Killed(Exception):
    pass


def test_search_outputs_and_a_kill_between_rounds_resumes_to_the_same_genotype(tmp_path, tfds_dir, deterministic):
    whole = run_manas_search(config(tmp_path / "whole", tfds_dir, agent="exp3", seed=1, eta=0.5))
    assert whole["mode"] == "supernet" and whole["rounds"] == 4 and whole["agents_count"] == 42
    assert [h["round"] for h in whole["history"]] == [1, 2, 3, 4]
    assert len({h["path"] for h in whole["history"]}) == 4 and all(len(h["path"]) == 42 for h in whole["history"])
    assert all(0 <= h["loss"] <= 1 and h["val_loss"] > 0 for h in whole["history"])
    genotype = load_genotype(str(tmp_path / "whole" / "genotype.json"), expected_space="manas")
    assert genotype.layers == 3 and whole["genotype"] == genotype.to_json()
    assert read(tmp_path / "whole", "search_summary.json")["history"] == whole["history"]

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
    other = run_manas_search(config(tmp_path / "other", tfds_dir, agent="exp3", seed=2, eta=0.5, epochs=1,
                                    steps_per_epoch=1))
    assert other["history"][0]["path"] != whole["history"][0]["path"]  # the run's seed drives the paths


def test_least_squares_run_shows_every_cell_in_tensorboard_and_fixes_the_training_depth(tmp_path, tfds_dir):
    from tfnas.training.trainer import TrainConfig, train_genotype

    out = tmp_path / "ls"
    summary = run_manas_search(config(out, tfds_dir, agent="least_squares", epochs=1, steps_per_epoch=3,
                                      heatmap_every=2, checkpoint_every=100))
    board = tags(str(out / "tensorboard" / "manas"))
    assert board["manas/val_loss"] == [1, 2, 3] and board["manas/loss"] == [1, 2, 3]
    for cell in ("cell0", "cell1", "cell2"):
        assert board[f"manas/probabilities/{cell}"] == [1, 2, 3]  # first, every 2nd, last round
        assert board[f"manas/ls_contributions/{cell}"] == [1, 2, 3]
        assert board[f"manas/entropy/{cell}"] == [1, 2, 3]
    assert board["manas/agent_entropy"] == [1, 2, 3] and board["train/loss"] == [1, 2, 3]
    choices = summary["agents"]["choices"]
    assert len(choices) == 42 and "ls_contributions" in choices["cell2/n3<-n2"]

    train = dict(output_dir=str(tmp_path / "train"), genotype=str(out / "genotype.json"), data_dir=tfds_dir,
                 layers=8)
    with pytest.raises(DepthFixedByGenotype, match="fixes the depth at 3 cells.*--layers=8"):
        train_genotype(TrainConfig(**train))
    assert not os.path.exists(tmp_path / "train" / "checkpoints")  # refused before any work
    # training and exporting the found genotype: tests/test_tutorial.py (the tutorial's MANAS chapter)


def test_shared_cells_search_writes_a_darts_genotype_of_normal_and_reduce_cells(tmp_path, tfds_dir):
    from tfnas.spaces.darts import DartsGenotype

    out = tmp_path / "shared"
    summary = run_manas_search(config(out, tfds_dir, agent="uniform", share_cells=True, epochs=1, steps_per_epoch=1))
    assert summary["agents_count"] == 28 and summary["space"] == "darts"
    assert sorted(summary["agents"]["choices"])[:1] == ["normal/n0<-s0"]
    assert isinstance(load_genotype(str(out / "genotype.json"), expected_space="darts"), DartsGenotype)
    assert "manas/entropy/reduce" in tags(str(out / "tensorboard" / "manas"))
