"""ViTAS (Su et al., "Vision Transformer Architecture Search", 2021) end to end: ``run_vitas_search(config)``.

1. The FLOPs window is checked against the space (clear error naming the reachable range) before
   anything is loaded or written.
2. Identity-probability tuning (``tfnas.spaces.vit.tune_identity_probability``): from p = 0.5,
   1,000 sampled subnets per step, +-0.01 until their mean MFLOPs lie in the window.
3. The super-transformer (``tfnas.supernets.super_transformer``) trains one sub-transformer per
   step, identity slots drawn with the tuned p, AdamW with warm-up + cosine, label smoothing,
   CutMix; checkpointed every epoch (re-running resumes).
4. p is tuned again (fresh samples) for the evolution's initial population; evolution
   (``tfnas.search.vitas_evolution``) searches inside the window: candidates outside are rejected
   before evaluation, or (``flops_penalty``) scored with a negative penalty without running them;
   fitness is the inherited sub-transformer's top-1 accuracy on a held-out part of the training
   split (BCNet: the mean of its left and right accuracies, as the reference scores). A ViT has
   LayerNorm, no BatchNorm, so SPOS' BN recalibration has no statistics to recompute: a candidate is
   scored directly. The searcher's state is saved after every candidate (re-running resumes).
5. The best candidate is written as genotype.json, its child with the supernet's sliced weights
   as inherited_model/ (``binaries.train --inherit_from``), and search_summary.json (window,
   tuned probabilities, supernet history, every generation's population with MFLOPs and fitness,
   the found genotype's mflops); TensorBoard events under tensorboard/, every evaluated candidate an
   HParams trial under tensorboard/trials/ (``candidate_trials``).
"""
from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Iterable

import numpy as np
import tensorflow as tf
from absl import logging

from tfnas import data as data_lib
from tfnas.errors import ConfigError
from tfnas.files import write_json
from tfnas.run_dir import RunDirectory
from tfnas.search.api import run_search
from tfnas.search.trials import TrialLog
from tfnas.search.vitas_evolution import ViTASEvolution
from tfnas.spaces import vit
from tfnas.spaces.base import save_genotype
from tfnas.summary_writer import SummaryWriter
from tfnas.supernets.super_transformer import WEIGHT_SHARING, PathAdamW, SuperTransformer, light_graph_optimization
from tfnas.configs.vitas import VitasSearchConfig  # noqa: F401  (re-exported: the driver's settings)
from tfnas.configs import vitas as _configs

assert set(_configs.WEIGHT_SHARING) == set(WEIGHT_SHARING)
from tfnas.training.checkpointing import EpochCheckpoint, ResumableState
from tfnas.training.arch_summaries import EpochTensorBoard
from tfnas.training.progress import fit_verbosity
from tfnas.training.model_io import INHERITED_MODEL, save_trained_model
from tfnas.training.schedules import WarmupCosineDecay

keras = tf.keras


class SupernetFitness:
    """A candidate's fitness: the inherited sub-transformer's held-out accuracy, and its MFLOPs.

    Outside the window (only proposed with the soft penalty) the candidate is not run: its fitness
    is minus its relative distance to the window, below every evaluated candidate's accuracy.
    """

    def __init__(self, supernet: SuperTransformer, validation: Iterable[Any], min_mflops: float, max_mflops: float):
        self.supernet, self.validation = supernet, list(validation)
        self.min_mflops, self.max_mflops = min_mflops, max_mflops

    def evaluate(self, arch: dict[str, Any]) -> dict[str, Any]:
        space = self.supernet.space
        mflops = space.mflops(arch)
        if not self.min_mflops <= mflops <= self.max_mflops:
            distance = max(self.min_mflops - mflops, mflops - self.max_mflops)
            return {"accuracy": -distance / self.max_mflops, "mflops": mflops, "in_window": False}
        accuracy = self.supernet.path_accuracy(space.path(arch), self.validation)
        return {"accuracy": accuracy, "mflops": mflops, "in_window": True}


def build_supernet(config: VitasSearchConfig, space: vit.ViTSpace, identity_probability: float,
                   steps_per_epoch: int) -> SuperTransformer:
    """The super-transformer with the paper's recipe: AdamW, linear warm-up then cosine, per step."""
    keras.utils.set_random_seed(config.seed)
    supernet = SuperTransformer(space, config.weight_sharing, config.private_class_token, seed=config.seed,
                                label_smoothing=config.label_smoothing, cutmix_alpha=config.cutmix_alpha)
    supernet.set_identity_probability(identity_probability)
    schedule = WarmupCosineDecay(config.learning_rate, config.epochs * steps_per_epoch,
                                 config.warmup_epochs * steps_per_epoch, config.min_learning_rate)
    supernet.compile(optimizer=PathAdamW(schedule, weight_decay=config.weight_decay).attach(supernet))
    return supernet


def train_supernet(supernet: SuperTransformer, config: VitasSearchConfig, data, train_idx: np.ndarray,
                   run_dir: RunDirectory, steps: int) -> float:
    """model.fit, checkpointed every epoch in ``run_dir`` (weights, optimizer slots, step counter: the sampled
    paths and the schedule resume exactly); returns the training wall time (s)."""
    state = ResumableState(supernet, run_dir)
    start_epoch = state.restore_latest()
    checkpoint = EpochCheckpoint(state, run_dir)
    if start_epoch < config.epochs:
        stream = data_lib.train_stream(data, train_idx, config.batch_size, config.seed,
                                       data_lib.Augment.standard(data), start_epoch, steps)
        callbacks = [checkpoint, EpochTensorBoard(run_dir.tensorboard + "/supernet", write_graph=False,
                                                             profile_batch=0)]
        with light_graph_optimization():
            keras_verbose, progress = fit_verbosity(config.verbose, "super-transformer", config.epochs)
            supernet.fit(stream, epochs=config.epochs, initial_epoch=start_epoch, steps_per_epoch=steps,
                         callbacks=callbacks + progress, verbose=keras_verbose)
        checkpoint.raise_if_nonfinite("Lower --learning_rate and re-run; training resumes from that epoch.")
    return float(checkpoint.wall_time_s)


def _generation_records(space: vit.ViTSpace, searcher: ViTASEvolution) -> list[dict[str, Any]]:
    out = []
    for g, population in enumerate(searcher.survivors, start=1):
        fitness = [p["metrics"]["accuracy"] for p in population]
        out.append({"generation": g, "best_fitness": max(fitness), "mean_fitness": float(np.mean(fitness)),
                    "population": [{"architecture": str(space.genotype(p["arch"])), "path": space.path(p["arch"]),
                                    "mflops": p["metrics"]["mflops"], "fitness": p["metrics"]["accuracy"]}
                                   for p in population]})
    return out


def candidate_trials(space: vit.ViTSpace, tensorboard_dir: str) -> TrialLog:
    """Every evaluated candidate as an HParams trial ``tensorboard/trials/<n>``.

    Hparams: the space's choices (patch_size, embed_dim, per slot heads or identity and, for a
    block, its attention and MLP widths: an identity slot's widths have no effect and are left out)
    and the depth (blocks that are not identity); metrics: fitness (``accuracy``), ``mflops`` and
    the child's ``params``.
    """
    categorical = space.categorical
    options = {**{c.name: c.options for c in categorical.choices}, "depth": tuple(range(space.config.num_slots + 1))}

    def hparams(arch: dict[str, Any]) -> dict[str, Any]:
        active = {c.name: arch[c.name] for c in categorical.choices if categorical.active(arch, c)}
        return {**active, "depth": space.genotype(arch).depth}

    def metrics(arch: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        return {**values, "params": space.params(arch)}

    return TrialLog(tensorboard_dir + "/trials", options, hparams=hparams, metrics=metrics)


def _log_candidate(writer: SummaryWriter, trials: TrialLog, searcher: ViTASEvolution):
    def on_result(n: int, arch: dict, metrics: dict) -> None:
        trials.sync(searcher.history)
        writer.scalars({"evolution/candidate_fitness": metrics["accuracy"],
                        "evolution/candidate_mflops": metrics["mflops"]}, n)
        writer.flush()
        logging.info("candidate %d: fitness %.4f at %.3f MFLOPs", n, metrics["accuracy"], metrics["mflops"])
    return on_result


def run_vitas_search(config: VitasSearchConfig) -> dict[str, Any]:
    """Tune, train, evolve (each step resumable in ``config.output_dir``) and write the found architecture."""
    config.validate()
    channels, num_classes = data_lib.dataset_geometry(config.dataset, config.data_dir)
    space = config.space(channels, num_classes)
    vit.check_window(space, config.min_mflops, config.max_mflops, config.identity_step)
    run_dir = RunDirectory(config.output_dir, fresh=config.fresh)
    run_dir.check_config(dataclasses.asdict(config), resumable_keys=VitasSearchConfig.RESUMABLE)
    writer = SummaryWriter(run_dir.tensorboard + "/search")
    started = time.time()

    def tune(seed: int) -> vit.IdentityTuning:
        return vit.tune_identity_probability(space, config.min_mflops, config.max_mflops, config.identity_samples,
                                             seed=seed, step=config.identity_step)

    tuning = {"supernet": tune(config.seed), "evolution": tune(config.seed + 1)}
    for stage, t in tuning.items():
        for i, (p, mean) in enumerate(t.trace):
            writer.scalars({f"identity_tuning/{stage}/probability": p, f"identity_tuning/{stage}/mean_mflops": mean}, i)
    logging.info("identity probability %.2f (supernet) / %.2f (evolution): mean %.3f MFLOPs in [%g, %g]",
                 tuning["supernet"].probability, tuning["evolution"].probability, tuning["supernet"].mean_mflops,
                 config.min_mflops, config.max_mflops)

    c = space.config
    data = data_lib.load_image_data(config.dataset, config.data_dir, image_size=c.image_size)
    train_idx, heldout_idx = data.search_split(config.train_portion, config.seed)
    steps = data_lib.steps_for(len(train_idx), config.batch_size, config.steps_per_epoch)
    supernet = build_supernet(config, space, tuning["supernet"].probability, steps)
    train_seconds = train_supernet(supernet, config, data, train_idx, run_dir, steps)

    categorical = space.categorical if config.flops_penalty else space.with_window(config.min_mflops, config.max_mflops)
    searcher = ViTASEvolution(categorical, "accuracy", seed=config.seed,
                              population_size=config.evolution_population_size,
                              generations=config.evolution_generations, crossover_prob=config.crossover_prob,
                              mutation_prob=config.mutation_prob,
                              operators=space.operators(tuning["evolution"].probability))
    validation = data_lib.eval_dataset(data, "train", heldout_idx[: config.eval_examples], 256)
    evaluator = SupernetFitness(supernet, validation, config.min_mflops, config.max_mflops)
    search_started = time.time()
    trials = candidate_trials(space, run_dir.tensorboard)
    with light_graph_optimization():
        run_search(searcher, evaluator, max_evaluations=10 ** 9, state_path=run_dir.file("searcher_state.json"),
                   on_result=_log_candidate(writer, trials, searcher))
    trials.sync(searcher.history)  # a resumed search with nothing left to evaluate writes what a kill left out
    generations = _generation_records(space, searcher)
    for record in generations:
        writer.scalars({"evolution/best_fitness": record["best_fitness"],
                        "evolution/mean_fitness": record["mean_fitness"],
                        "evolution/mean_mflops": float(np.mean([p["mflops"] for p in record["population"]]))},
                       record["generation"])

    best = max((h for h in searcher.history if h["metrics"].get("in_window", True)),
               key=lambda h: h["metrics"]["accuracy"], default=None)
    if best is None:
        raise ConfigError("the evolution evaluated no candidate inside the FLOPs window; widen the window or turn off "
                          "--flops_penalty")
    genotype = space.genotype(best["arch"])
    save_genotype(genotype, run_dir.file("genotype.json"))
    child = supernet.export_child(best["arch"])
    model_config = {"space": vit.SPACE, "genotype": genotype.to_json(), "num_classes": num_classes,
                    "input_shape": [c.image_size, c.image_size, channels], "dataset": config.dataset,
                    "data_dir": config.data_dir, "image_size": c.image_size,
                    "mean": np.asarray(data.mean).tolist(), "std": np.asarray(data.std).tolist(),
                    "inherited": {"side": supernet.sides[0], "weight_sharing": config.weight_sharing}}
    save_trained_model(child, run_dir.file(INHERITED_MODEL), model_config)
    history = run_dir.history()
    summary = {
        "method": "vitas", "space": vit.SPACE, "space_config": c.to_json(), "dataset": config.dataset,
        "seed": config.seed, "flops_window_mflops": [config.min_mflops, config.max_mflops],
        "flops_unit": "MFLOPs = millions of multiply-accumulates per image",
        "identity_probability": tuning["supernet"].probability,
        "identity_tuning": {stage: t.to_json() for stage, t in tuning.items()},
        "mflops": genotype.mflops(channels, num_classes), "params": genotype.params(channels, num_classes),
        "genotype": genotype.to_json(), "architecture": str(genotype),
        "supernet_fitness": best["metrics"]["accuracy"], "supernet_history": history,
        "supernet_train_seconds": train_seconds, "search_seconds": round(time.time() - search_started, 2),
        "wall_time_s": round(time.time() - started, 2), "evaluations": len(searcher.history),
        "generations": generations, "inherited_model": run_dir.file(INHERITED_MODEL),
        "config": dataclasses.asdict(config), "tensorboard": run_dir.tensorboard,
    }
    write_json(run_dir.file("search_summary.json"), summary)
    writer.text("found/genotype", json.dumps(genotype.to_json()), 0)
    writer.close()
    return summary
