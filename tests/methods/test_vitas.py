"""ViTAS end to end: tune, train, evolve in the window, write the results; resume; inherit; bad windows fail first."""
from __future__ import annotations

import glob
import os
import shutil

import numpy as np
import pytest

import tfnas  # noqa: F401

from conftest import read_trials
from tfnas import data as data_lib
from tfnas.files import read_json
from tfnas.methods.vitas import VitasSearchConfig, run_vitas_search
from tfnas.spaces import vit
from tfnas.spaces.base import load_genotype

WINDOW = dict(min_mflops=0.8, max_mflops=1.6)
TINY = dict(epochs=2, warmup_epochs=1, steps_per_epoch=3, batch_size=32, evolution_population_size=4,
            evolution_generations=2, eval_examples=64, identity_samples=500, verbose=0, **WINDOW)


@pytest.fixture(scope="module")
def search(tmp_path_factory, tfds_dir):
    out = str(tmp_path_factory.mktemp("vitas"))
    config = VitasSearchConfig(output_dir=out, data_dir=tfds_dir, weight_sharing="left", **TINY)
    return config, run_vitas_search(config)


def test_search_writes_a_genotype_inside_the_window_and_its_summary(search):
    config, summary = search
    genotype = load_genotype(os.path.join(config.output_dir, "genotype.json"), expected_space="vit")
    assert summary["genotype"] == genotype.to_json()
    assert WINDOW["min_mflops"] <= summary["mflops"] == genotype.mflops(1, 10) <= WINDOW["max_mflops"]
    assert summary["flops_window_mflops"] == [0.8, 1.6]
    space = config.space(1, 10)
    p = summary["identity_probability"]
    assert 0.8 <= space.mean_mflops(p) + 0.1 and space.mean_mflops(p) - 0.1 <= 1.6
    assert len(summary["supernet_history"]) == config.epochs
    assert [g["generation"] for g in summary["generations"]] == [1, 2]
    for generation in summary["generations"]:
        assert len(generation["population"]) == 4
        assert all(0.8 <= m["mflops"] <= 1.6 and 0 <= m["fitness"] <= 1 for m in generation["population"])
    assert glob.glob(os.path.join(config.output_dir, "tensorboard", "search", "events.out.tfevents.*"))
    assert glob.glob(os.path.join(config.output_dir, "tensorboard", "supernet", "**", "events.out.tfevents.*"),
                     recursive=True)
    # Every evaluated candidate is one HParams trial: its choices (an identity slot's widths left out) and depth,
    # its fitness, MFLOPs and parameters.
    trials = read_trials(os.path.join(config.output_dir, "tensorboard", "trials"))
    history = read_json(os.path.join(config.output_dir, "searcher_state.json"))["history"]
    assert sorted(trials["trials"]) == [f"{n:05d}" for n in range(1, summary["evaluations"] + 1)]
    assert set(trials["experiment"]["hparams"]) == {c.name for c in space.categorical.choices} | {"depth"}
    assert trials["experiment"]["metrics"] == ["trial/accuracy", "trial/mflops", "trial/params"]
    for (_, trial), h in zip(sorted(trials["trials"].items()), history):
        found = space.genotype(h["arch"])
        assert trial["hparams"]["depth"] == found.depth and trial["hparams"]["embed_dim"] == found.embed_dim
        for slot, block in enumerate(found.blocks):
            name = vit.slot_name(slot)
            assert trial["hparams"][f"{name}_heads"] == ("identity" if block is None else str(block.heads))
            assert (f"{name}_mlp_dim" in trial["hparams"]) == (block is not None)
        assert trial["metrics"] == pytest.approx({"trial/accuracy": h["metrics"]["accuracy"],
                                                  "trial/mflops": h["metrics"]["mflops"],
                                                  "trial/params": found.params(1, 10)})


def test_inherited_child_scores_what_the_supernet_scored(search, tfds_dir):
    from tfnas.training.model_io import load_trained_model

    config, summary = search
    model = load_trained_model(summary["inherited_model"])
    data = data_lib.load_image_data(config.dataset, tfds_dir)
    _, heldout = data.search_split(config.train_portion, config.seed)
    correct = total = 0
    for images, labels in data_lib.eval_dataset(data, "train", heldout[: config.eval_examples], 256):
        correct += int((model(images).numpy().argmax(-1) == labels.numpy()).sum())
        total += len(labels)
    assert correct / total == pytest.approx(summary["supernet_fitness"], abs=1e-9)


def test_rerunning_resumes_and_more_generations_continue(search, tfds_dir):
    config, summary = search
    state = read_json(os.path.join(config.output_dir, "searcher_state.json"))
    trials_dir = os.path.join(config.output_dir, "tensorboard", "trials")
    # As a search killed after it saved its last result but before that result's trial was written.
    shutil.rmtree(os.path.join(trials_dir, f"{summary['evaluations']:05d}"))
    again = run_vitas_search(config)
    assert again["evaluations"] == summary["evaluations"] == len(state["history"])
    assert again["supernet_history"] == summary["supernet_history"]  # no epoch trained again
    longer = run_vitas_search(VitasSearchConfig(**{**config.__dict__, "evolution_generations": 3}))
    assert longer["evaluations"] > summary["evaluations"] and len(longer["generations"]) == 3
    trials = read_trials(trials_dir)["trials"]  # one trial per evaluation: the lost one back, none twice
    assert {d: t["id"] for d, t in trials.items()} == {f"{n:05d}": str(n) for n in range(1, longer["evaluations"] + 1)}


def test_train_inherit_from_starts_at_the_supernet_weights(search, tmp_path, tfds_dir):
    from tfnas.errors import UserInputError
    from tfnas.training.trainer import TrainConfig, train_genotype

    config, summary = search
    genotype_path = os.path.join(config.output_dir, "genotype.json")
    result = train_genotype(TrainConfig(output_dir=str(tmp_path / "train"), genotype=genotype_path,
                                        inherit_from=config.output_dir, data_dir=tfds_dir, epochs=1,
                                        steps_per_epoch=1, batch_size=16, optimizer="adam", learning_rate=1e-9,
                                        weight_decay=0.0, verbose=0))
    assert result["params"] == summary["params"]
    other = vit.ViTGenotype(28, 14, 16, (None,) * 6)
    other_path = str(tmp_path / "other.json")
    from tfnas.spaces.base import save_genotype

    save_genotype(other, other_path)
    with pytest.raises(UserInputError, match="another genotype"):
        train_genotype(TrainConfig(output_dir=str(tmp_path / "t2"), genotype=other_path,
                                   inherit_from=config.output_dir, data_dir=tfds_dir))


def test_an_unreachable_window_fails_before_anything_is_written(tmp_path, tfds_dir):
    out = tmp_path / "never"
    space = vit.ViTSpace(vit.space_config("cpu_28"), 1, 10)
    lo, hi = space.mflops_range()
    config = VitasSearchConfig(output_dir=str(out), data_dir=tfds_dir, **{**TINY, "min_mflops": hi * 2,
                                                                         "max_mflops": hi * 3})
    with pytest.raises(vit.FlopsWindowError, match=f"{lo:.4g} to {hi:.4g}"):
        run_vitas_search(config)
    assert not out.exists()


def test_penalty_mode_scores_out_of_window_candidates_without_running_them(search):
    from tfnas.methods.vitas import SupernetFitness

    class NoRun:
        space = search[0].space(1, 10)

        def path_accuracy(self, path, data):
            raise AssertionError("an out-of-window candidate was run")

    fitness = SupernetFitness(NoRun(), [], 0.8, 1.6)
    big = NoRun.space.arch_from_path(np.asarray(NoRun.space.num_choices) - 1)  # the largest subnet but patch size
    big["patch_size"] = min(NoRun.space.config.patch_sizes)
    metrics = fitness.evaluate(big)
    assert metrics["mflops"] > 1.6 and not metrics["in_window"] and metrics["accuracy"] < 0
