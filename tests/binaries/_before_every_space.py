"""Every space a search writes trains with binaries.train's recipe and exports with binaries.export's.

One tiny search per space through the library drivers the search binaries call, then
``train_genotype`` (binaries.train) on the genotype.json it wrote, then ``export_model_dir``
(binaries.export) to .tflite (LCE for BATS' binary network). tests/methods/test_search_hurricane_binary.py
runs the same chain through the binaries' command lines for HURRICANE.
"""
from __future__ import annotations

import os

import pytest

import tfnas  # noqa: F401

from tfnas.hardware.trained_export import export_model_dir
from tfnas.spaces.base import load_genotype
from tfnas.training.trainer import TrainConfig, train_genotype

TINY = dict(dataset="mnist_embedded", batch_size=16, epochs=1, steps_per_epoch=2, verbose=0)


def _nasbench201(out, tfds_dir):
    from tfnas.benchmarks import nasbench201 as nb
    from tfnas.search.random import RandomSearch
    from tfnas.search.runner import run_to_output_dir

    evaluator = nb.load_evaluator(None, "cifar10")
    run_to_output_dir(RandomSearch(evaluator.space(), evaluator.metric), evaluator, 3, out, "random",
                      nb.arch_to_string, nb.arch_to_genotype, {"method": "random"})
    return dict(layers=1, init_channels=4, image_size=16)


def _darts(out, tfds_dir):
    from tfnas.methods.differentiable_search import SearchConfig, run_differentiable_search

    run_differentiable_search(SearchConfig(output_dir=out, method="darts", space="darts", layers=3, init_channels=4,
                                           image_size=16, data_dir=tfds_dir, validation_steps=1, **TINY))
    return dict(layers=3, init_channels=4, image_size=16, auxiliary=False)


def _bats(out, tfds_dir):
    from tfnas.methods.bats import BatsSearchConfig, run_bats_search

    run_bats_search(BatsSearchConfig(output_dir=out, layers=3, init_channels=8, groups=2, shuffle_groups=2,
                                     image_size=16, kd_weight=0.0, checkpoint_cells=False, data_dir=tfds_dir,
                                     validation_steps=1, **TINY))
    return dict(binary=True, layers=3, init_channels=32, image_size=16, auxiliary=False)


def _pnas(out, tfds_dir):
    from tfnas import data as data_lib
    from tfnas.search.pnas import ProgressiveSearcher
    from tfnas.search.runner import run_to_output_dir
    from tfnas.search.surrogates import Surrogate
    from tfnas.search.training_evaluator import CandidateTraining, TrainingEvaluator
    from tfnas.spaces import pnas

    data = data_lib.load_image_data("mnist_embedded", tfds_dir, 16)
    evaluator = TrainingEvaluator(
        data, lambda a, n, s: pnas.build_network(pnas.to_genotype(a), n, s, cells_per_stage=1, filters=4),
        CandidateTraining(epochs=1, batch_size=16, steps_per_epoch=2))
    searcher = ProgressiveSearcher(evaluator.metric, max_blocks=1, beam_size=1, initial_cells=2,
                                   surrogate_factory=lambda enc: Surrogate(enc, ("mlp",), mlp=dict(num_members=1,
                                                                                                    epochs=2)))
    run_to_output_dir(searcher, evaluator, 10, out, "pnas", lambda a: pnas.to_genotype(a).to_json()["blocks"],
                      pnas.to_genotype, {"method": "pnas"})
    return dict(layers=1, init_channels=4, image_size=16)


def _hurricane(out, tfds_dir):
    from tfnas.hardware import latency_table as lt
    from tfnas.methods.hurricane import HurricaneSearchConfig, run_hurricane_search
    from tfnas.spaces import hurricane

    config = hurricane.HurricaneConfig(32, 0.25, input_channels=1, num_classes=10)
    table = lt.LatencyTable.from_function(config, lambda p, op: 0.01, ops=("mbconv_k3_e1",), fixed_ms=0.05)
    table.save(os.path.join(out + "_table.json"))
    run_hurricane_search(HurricaneSearchConfig(
        output_dir=out, device_table=out + "_table.json", max_latency_ms=0.5, data_dir=tfds_dir, resolution=32,
        width_multiplier=0.25, top_k=1, stages=1, population_size=1, generations=1, num_parents=1,
        num_mutations=0, num_crossovers=0, recalibration_batches=1, eval_examples=16, measure_best=False,
        **{k: v for k, v in TINY.items() if k != "dataset"}))
    return dict()  # the genotype fixes every layer and its 32x32 input


def _vit(out, tfds_dir):
    from tfnas.methods.vitas import VitasSearchConfig, run_vitas_search

    run_vitas_search(VitasSearchConfig(output_dir=out, min_mflops=0.8, max_mflops=1.6, data_dir=tfds_dir,
                                       weight_sharing="left", warmup_epochs=0, evolution_population_size=2,
                                       evolution_generations=1, eval_examples=16, identity_samples=200, **TINY))
    return dict(optimizer="adam", learning_rate=1e-3, weight_decay=0.0)  # the genotype fixes its 28x28 input



def _manas(out, tfds_dir):
    from tfnas.methods.manas import ManasConfig, run_manas_search

    run_manas_search(ManasConfig(output_dir=out, agent="uniform", layers=3, init_channels=2, image_size=8,
                                 data_dir=tfds_dir, checkpoint_cells=False,
                                 ops=("none", "skip_connect", "max_pool_3x3", "sep_conv_3x3"),
                                 **{**TINY, "steps_per_epoch": 1}))
    return dict(init_channels=4, image_size=16, auxiliary=False)  # the per-cell genotype fixes the depth (3)


SEARCHES = {"nasbench201": _nasbench201, "darts": _darts, "bats": _bats, "pnas": _pnas, "hurricane": _hurricane,
            "vit": _vit, "manas": _manas}
EXPORT_FORMAT = {"bats": "lce"}


@pytest.mark.parametrize("space", sorted(SEARCHES))
def test_search_genotype_trains_and_exports(space, tmp_path, tfds_dir):
    search_dir = str(tmp_path / "search")
    train_options = SEARCHES[space](search_dir, tfds_dir)
    genotype_path = os.path.join(search_dir, "genotype.json")
    assert load_genotype(genotype_path).SPACE == space
    summary = train_genotype(TrainConfig(output_dir=str(tmp_path / "train"), genotype=genotype_path,
                                         data_dir=tfds_dir, drop_path=0.0, cutout=0, **TINY, **train_options))
    fmt = EXPORT_FORMAT.get(space, "tflite")
    facts = export_model_dir(summary["model_dir"], fmt, str(tmp_path / "model.tflite"))
    assert facts["format"] == fmt and facts["size_bytes"] == os.path.getsize(tmp_path / "model.tflite") > 0


def test_unknown_space_lists_every_space_with_a_network():
    """The error for a space without a network names all that have one, BATS' binary network included."""
    from tfnas.spaces.networks import NoNetworkForGenotype, network_builder

    with pytest.raises(NoNetworkForGenotype) as e:
        network_builder("no_such_space")
    for space in ("bats", "darts", "hurricane", "manas", "nasbench201", "pnas", "vit"):
        assert repr(space) in str(e.value)
