"""HURRICANE (Zhang et al.): hardware-aware space generation + two-stage single-path one-shot search.

Pipeline (every step resumable from ``output_dir``):
1. ``generate_space``: keep the top-k ops per layer for the device table (tfnas/hardware/space_generation.py).
2. Stage 1 ("later stages first"): layers ``stage_split..19`` are searchable over their generated
   candidates while layers ``0..stage_split-1`` are fixed to their fastest generated op. A
   single-path supernet is trained (one uniformly sampled path per step), then SPOS evolution
   searches the later layers under the hard latency limit.
3. Stage 2: the later layers are fixed to stage 1's best ops and frozen (weights and BN statistics
   kept), the early layers become searchable; the supernet starts from stage 1's weights
   (stem, head, later ops, and the early ops stage 1 trained), is trained again, and evolution
   searches the early layers under the same limit.
``stages=1`` runs plain one-stage SPOS over all 20 layers instead (the baseline).

Every candidate's fitness is its supernet accuracy on a held-out part of the training split after
BN recalibration on training batches; its predicted latency comes from the device table and a
candidate over the limit is never evaluated (the constraint is checked when it is proposed).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from tfnas import data as data_lib
from tfnas.hardware.latency_table import LatencyTable
from tfnas.hardware.space_generation import GeneratedSpace
from tfnas.search.api import CategoricalSpace, Choice, Constraint, run_search
from tfnas.search.spos_evolution import SpaceExhausted, SPOSEvolution
from tfnas.search.trials import TrialLog
from tfnas.spaces import hurricane
from tfnas.supernets.path_sampling import PathSGD, light_graph_optimization, transfer_weights
from tfnas.supernets.single_path import SinglePathSupernet
from tfnas.configs.hurricane import (  # noqa: F401  (re-exported: the driver's settings)
    HurricaneError, HurricaneSearchConfig, SearchSettings, check_stages)
from tfnas.files import read_json, write_json
from tfnas.run_dir import RunDirectory
from tfnas.summary_writer import SummaryWriter
from tfnas.training.checkpointing import EpochCheckpoint, ResumableState
from tfnas.training.arch_summaries import EpochTensorBoard
from tfnas.training.progress import fit_verbosity

keras = tf.keras


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """Which layers a stage searches, and which ops the other layers are fixed to."""

    name: str
    searched: tuple[int, ...]
    fixed: dict[int, str]
    frozen: tuple[int, ...]
    start: dict[int, str] = dataclasses.field(default_factory=dict)  # a known-feasible starting point

    def start_arch(self) -> list[dict[str, str]]:
        """The starting point as an architecture of this stage's space (none if it has none)."""
        return [{hurricane.choice_name(i): self.start[i] for i in self.searched}] if self.start else []

    def candidates(self, generated: Sequence[Sequence[str]]) -> list[list[str]]:
        return [list(generated[i]) if i in self.searched else [self.fixed[i]] for i in range(hurricane.NUM_LAYERS)]


def check_limit(table: LatencyTable, generated: Sequence[Sequence[str]], max_latency_ms: float) -> float:
    """The fastest predicted latency of the generated space; an error if the limit is below it."""
    fastest, ops = table.fastest(generated)
    if max_latency_ms < fastest:
        raise HurricaneError(
            f"--max_latency_ms={max_latency_ms:g} is below the fastest architecture of the generated space "
            f"({fastest:.4f} ms predicted by the device table, all layers at their fastest op); raise the limit to "
            f"at least {fastest:.4f} ms")
    return fastest


def latency_constraint(table: LatencyTable, plan: StagePlan, max_latency_ms: float) -> Constraint:
    def ok(arch: dict[str, str]) -> bool:
        return table.predict(full_ops(plan, arch)) <= max_latency_ms
    return Constraint(f"predicted_latency_ms<={max_latency_ms:g}", ok)


def stage_space(plan: StagePlan, generated: Sequence[Sequence[str]], constraint: Constraint) -> CategoricalSpace:
    return CategoricalSpace([Choice(hurricane.choice_name(i), tuple(generated[i])) for i in plan.searched],
                            [constraint])


def full_ops(plan: StagePlan, arch: dict[str, str]) -> tuple[str, ...]:
    return tuple(arch[hurricane.choice_name(i)] if i in plan.searched else plan.fixed[i]
                 for i in range(hurricane.NUM_LAYERS))


class SupernetEvaluator:
    """Fitness of an architecture: supernet accuracy after BN recalibration, plus its predicted latency."""

    def __init__(self, supernet: SinglePathSupernet, plan: StagePlan, table: LatencyTable,
                 recalibration: Sequence[tuple[tf.Tensor, tf.Tensor]], validation: Sequence[tuple[tf.Tensor, tf.Tensor]]):
        self.supernet, self.plan, self.table = supernet, plan, table
        self.recalibration, self.validation = list(recalibration), list(validation)

    def evaluate(self, arch: dict[str, str]) -> dict[str, float]:
        ops = full_ops(self.plan, arch)
        path = self.supernet.path_for(ops)
        with light_graph_optimization():
            accuracy = self.supernet.score_path(path, self.recalibration, self.validation)
        return {"accuracy": float(accuracy), "predicted_latency_ms": float(self.table.predict(ops))}


# --- training ------------------------------------------------------------------------------------------
def supernet_loss(label_smoothing: float) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Cross-entropy of integer labels against logits, with SPOS' label smoothing when > 0."""
    if not label_smoothing:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def smoothed(labels, logits):
        onehot = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), tf.shape(logits)[-1])
        return keras.losses.categorical_crossentropy(onehot, logits, from_logits=True, label_smoothing=label_smoothing)
    return smoothed


def make_supernet(config: hurricane.HurricaneConfig, candidates: Sequence[Sequence[str]], settings: SearchSettings,
                  frozen: Sequence[int] = ()) -> SinglePathSupernet:
    supernet = SinglePathSupernet(config, candidates, seed=settings.seed, frozen_layers=frozen,
                                  bn_affine=settings.bn_affine)
    optimizer = PathSGD(learning_rate=settings.learning_rate, momentum=settings.momentum,
                        weight_decay_l2=settings.weight_decay).attach(supernet)
    supernet.compile(optimizer=optimizer, loss=supernet_loss(settings.label_smoothing))
    return supernet


def copy_weights(source: SinglePathSupernet, target: SinglePathSupernet) -> int:
    """Copy stem, head and every op both supernets have at the same layer; returns how many ops were copied."""
    pairs = [(source.stem, target.stem), (source.head, target.head)]
    for i, (src_layer, dst_layer) in enumerate(zip(source.choice_layers, target.choice_layers)):
        for j, op in enumerate(target.candidates[i]):
            if op in source.candidates[i]:
                pairs.append((src_layer.candidates[source.candidates[i].index(op)], dst_layer.candidates[j]))
    return transfer_weights(pairs) - 2


def train_supernet(supernet: SinglePathSupernet, data: data_lib.ImageData, indices: np.ndarray,
                   settings: SearchSettings, stage_dir: RunDirectory, epochs: int, log_dir: str | None = None,
                   verbose: int = 2) -> float:
    """Train ``epochs`` epochs with model.fit, checkpointed every epoch in ``stage_dir``; returns the
    training wall time (s).

    The stage's run directory holds the checkpoints (weights, optimizer slots, step counter: the
    sampled paths and the learning-rate schedule resume exactly) and history.json; calling again
    after the last epoch only restores the weights.
    """
    steps = data_lib.steps_for(len(indices), settings.batch_size, settings.steps_per_epoch)
    # Learning rate decays linearly to 0 over the stage (SPOS); the optimizer's step counter drives it.
    schedule = keras.optimizers.schedules.PolynomialDecay(settings.learning_rate, steps * epochs, 0.0)
    supernet.optimizer.learning_rate = schedule
    # The schedule's current-value variable now: created in the first traced train step (tf-keras does
    # that for a schedule set after construction), it makes tf.function trace the supernet step twice.
    supernet.optimizer._compute_current_learning_rate()
    state = ResumableState(supernet, stage_dir)
    start_epoch = state.restore_latest()
    checkpoint = EpochCheckpoint(state, stage_dir)
    if start_epoch < epochs:
        stream = data_lib.train_stream(data, indices, settings.batch_size, settings.seed,
                                       data_lib.Augment.standard(data), start_epoch, steps)
        callbacks: list[keras.callbacks.Callback] = [checkpoint]
        if log_dir:
            callbacks.append(EpochTensorBoard(log_dir, write_graph=False, profile_batch=0))
        with light_graph_optimization():
            keras_verbose, progress = fit_verbosity(verbose, f"{os.path.basename(stage_dir.path)} supernet", epochs)
            supernet.fit(stream, epochs=epochs, initial_epoch=start_epoch, steps_per_epoch=steps,
                         callbacks=callbacks + progress, verbose=keras_verbose)
        checkpoint.raise_if_nonfinite("Lower --learning_rate and re-run; training resumes from that epoch.")
    return float(checkpoint.wall_time_s)


# --- one stage: train + evolve ---------------------------------------------------------------------------
@dataclasses.dataclass
class StageResult:
    name: str
    best_ops: tuple[str, ...]
    accuracy: float
    predicted_latency_ms: float
    train_seconds: float
    search_seconds: float
    history: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "best_ops": list(self.best_ops), "accuracy": self.accuracy,
                "predicted_latency_ms": self.predicted_latency_ms, "train_seconds": self.train_seconds,
                "search_seconds": self.search_seconds, "history": self.history}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "StageResult":
        return cls(d["name"], tuple(d["best_ops"]), float(d["accuracy"]), float(d["predicted_latency_ms"]),
                   float(d["train_seconds"]), float(d["search_seconds"]), list(d["history"]))


def evaluation_batches(data: data_lib.ImageData, train_idx: np.ndarray, heldout_idx: np.ndarray,
                       settings: SearchSettings) -> tuple[list, list]:
    """Fixed recalibration batches (training images, no augmentation) and held-out validation batches."""
    rng = np.random.RandomState(settings.seed + 1)
    count = min(len(train_idx), settings.recalibration_batches * settings.batch_size)
    recal_idx = np.sort(rng.choice(train_idx, count, replace=False))
    recal = list(data_lib.eval_dataset(data, "train", recal_idx, settings.batch_size))
    val_idx = heldout_idx[: settings.eval_examples]
    if len(val_idx) == 0:
        raise HurricaneError("no held-out examples to score candidates on; lower --train_portion below 1")
    val = list(data_lib.eval_dataset(data, "train", val_idx, 256))
    return recal, val


def run_stage(plan: StagePlan, generated: Sequence[Sequence[str]], table: LatencyTable,
              config: hurricane.HurricaneConfig, settings: SearchSettings, data: data_lib.ImageData,
              output_dir: str, init_from: SinglePathSupernet | None = None,
              on_result: Callable[[str, int, dict, dict], None] | None = None,
              verbose: int = 2) -> tuple[StageResult, SinglePathSupernet]:
    """Train the stage's supernet, then SPOS-evolve its searched layers under the latency limit."""
    stage_dir = RunDirectory(os.path.join(output_dir, plan.name))
    result_path = stage_dir.file("result.json")
    # Weights are initialised from the seed (and the stage), so a search is reproducible end to end.
    keras.utils.set_random_seed(settings.seed * 1000 + (2 if plan.name == "stage2" else 1))
    supernet = make_supernet(config, plan.candidates(generated), settings, plan.frozen)
    if init_from is not None:  # a checkpoint of this stage, if any, overrides these when training resumes
        copy_weights(init_from, supernet)
    train_idx, heldout_idx = data.search_split(settings.train_portion, settings.seed)
    train_seconds = train_supernet(supernet, data, train_idx, settings, stage_dir, settings.stage_epochs(plan.name),
                                   os.path.join(output_dir, "tensorboard", plan.name), verbose)
    saved = read_json(result_path)
    if saved is not None:
        return StageResult.from_json(saved), supernet
    constraint = latency_constraint(table, plan, settings.max_latency_ms)
    space = stage_space(plan, generated, constraint)
    searcher = SPOSEvolution(space, "accuracy", seed=settings.seed, population_size=settings.population_size,
                             num_parents=settings.num_parents, num_mutations=settings.num_mutations,
                             num_crossovers=settings.num_crossovers, mutation_prob=settings.mutation_prob,
                             initial=plan.start_arch())
    recal, val = evaluation_batches(data, train_idx, heldout_idx, settings)
    evaluator = SupernetEvaluator(supernet, plan, table, recal, val)
    start = time.perf_counter()
    budget = settings.population_size * settings.generations

    trials = stage_trials(plan, generated, settings, output_dir)

    def report(n: int, arch: dict, metrics: dict) -> None:
        trials.sync(searcher.history)
        if on_result is not None:
            on_result(plan.name, n, arch, metrics)

    try:
        run_search(searcher, evaluator, budget, state_path=stage_dir.file("search_state.json"), on_result=report)
    except SpaceExhausted:
        if not searcher.history:
            raise
        logging.warning("%s: every feasible architecture was evaluated after %d candidates; stopping the search",
                        plan.name, len(searcher.history))
    trials.sync(searcher.history)  # a resumed stage with nothing left to evaluate writes what a kill left out
    search_seconds = time.perf_counter() - start
    best = searcher.best()
    history = [{"stage": plan.name, "ops": list(full_ops(plan, h["arch"])), **h["metrics"]} for h in searcher.history]
    result = StageResult(plan.name, full_ops(plan, best["arch"]), float(best["metrics"]["accuracy"]),
                         float(best["metrics"]["predicted_latency_ms"]), train_seconds, search_seconds, history)
    write_json(result_path, result.to_json())
    return result, supernet


def stage_trials(plan: StagePlan, generated: Sequence[Sequence[str]], settings: SearchSettings,
                 output_dir: str) -> TrialLog:
    """A stage's candidates as HParams trials ``tensorboard/trials/<stage>/<n>`` of one experiment for the run.

    Each trial's hparams are its stage and all 20 layers' ops (the searched ones and those the stage
    fixes), so one dashboard table sorts and filters both stages' candidates as whole networks;
    its metrics are the evaluation's (accuracy, predicted_latency_ms).
    """
    stages = ("spos",) if settings.stages == 1 else ("stage1", "stage2")
    options = {"stage": stages, **{hurricane.choice_name(i): tuple(ops) for i, ops in enumerate(generated)}}

    def hparams(arch: dict[str, str]) -> dict[str, str]:
        return {"stage": plan.name, **{hurricane.choice_name(i): op for i, op in enumerate(full_ops(plan, arch))}}

    return TrialLog(os.path.join(output_dir, "tensorboard", "trials"), options, folder=plan.name, hparams=hparams)


def plans(generated: Sequence[Sequence[str]], table: LatencyTable, settings: SearchSettings) -> list[StagePlan]:
    """Stage 1 plan (two-stage) or the single all-layer plan (one-stage SPOS)."""
    layers = range(hurricane.NUM_LAYERS)
    if settings.stages == 1:
        return [StagePlan("spos", tuple(layers), {}, ())]
    check_stages(settings.stages, settings.stage_split)
    early = tuple(i for i in layers if i < settings.stage_split)
    later = tuple(i for i in layers if i >= settings.stage_split)
    fastest = {i: min(generated[i], key=lambda op, i=i: table.op_latency(i, op)) for i in early}
    return [StagePlan("stage1", later, fastest, ())]


def second_plan(first: StageResult, settings: SearchSettings) -> StagePlan:
    later = {i: first.best_ops[i] for i in range(settings.stage_split, hurricane.NUM_LAYERS)}
    # Stage 1's best is feasible with the early layers at the ops stage 1 fixed them to, so stage 2's
    # first generation starts from it: with stage 1's later layers close to the limit, random draws of
    # the early layers may find no other feasible architecture.
    start = {i: first.best_ops[i] for i in range(settings.stage_split)}
    return StagePlan("stage2", tuple(range(settings.stage_split)), later, tuple(sorted(later)), start)


def search(generated: GeneratedSpace, table: LatencyTable, config: hurricane.HurricaneConfig,
           settings: SearchSettings, data: data_lib.ImageData, output_dir: str,
           on_result: Callable[[str, int, dict, dict], None] | None = None,
           verbose: int = 2) -> tuple[list[StageResult], SinglePathSupernet]:
    """Run the one- or two-stage search; returns every stage's result and the last supernet."""
    check_limit(table, generated.candidates, settings.max_latency_ms)
    first_plan = plans(generated.candidates, table, settings)[0]
    result, supernet = run_stage(first_plan, generated.candidates, table, config, settings, data, output_dir,
                                 on_result=on_result, verbose=verbose)
    results = [result]
    if settings.stages == 2:
        result2, supernet = run_stage(second_plan(result, settings), generated.candidates, table, config, settings,
                                      data, output_dir, init_from=supernet, on_result=on_result, verbose=verbose)
        results.append(result2)
    return results, supernet


def _write_candidate(writer: SummaryWriter, settings: SearchSettings) -> Callable[[str, int, dict, dict], None]:
    """TensorBoard scalars per evaluated candidate; stage 2's candidates are counted after stage 1's."""
    offsets = {"spos": 0, "stage1": 0, "stage2": settings.population_size * settings.generations}
    best_so_far: dict[str, float] = {}

    def on_result(stage: str, n: int, arch: dict, metrics: dict) -> None:
        step = offsets.get(stage, 0) + n
        best_so_far[stage] = max(best_so_far.get(stage, 0.0), metrics["accuracy"])
        writer.scalar("candidate/accuracy", metrics["accuracy"], step)
        writer.scalar("candidate/predicted_latency_ms", metrics["predicted_latency_ms"], step)
        writer.scalar(f"{stage}/best_accuracy", best_so_far[stage], step)
        writer.flush()
        logging.info("%s candidate %d: accuracy %.4f, predicted %.3f ms", stage, n, metrics["accuracy"],
                     metrics["predicted_latency_ms"])

    return on_result


def near_chance_warnings(results: Sequence[StageResult], num_classes: int) -> list[str]:
    """A warning per stage whose best candidate scores at most twice chance on the held-out images.

    The evolution ranks candidates by the supernet's accuracy on them; when even the best is near
    chance the supernet has not learned enough for that ranking to mean anything, and the search
    was a random draw under the latency limit. At small budgets this happens: on mnist_embedded at
    width 0.25 with 4 candidates per layer the supernet stays at chance for its first 500 steps,
    although every fixed path learns within 150 (docs/BENCHMARKS.md, HURRICANE).
    """
    chance = 1.0 / num_classes
    return [f"{r.name}: the best candidate scores {r.accuracy:.3f} on held-out images, near chance ({chance:.3f}): "
            "the supernet has not learned enough to rank architectures, so this stage's pick is close to random; "
            "raise --epochs (or --stage1_epochs / --stage2_epochs)"
            for r in results if r.accuracy <= 2 * chance]


def run_hurricane_search(config: HurricaneSearchConfig) -> dict[str, Any]:
    """Generate the device's space, run the one- or two-stage search, measure the best; resumable.

    Writes to ``config.output_dir``: run_config.json, generated_space.json (the per-device candidates
    and every op's score), one directory per stage (checkpoints, history, evolution state,
    result.json), genotype.json (the best architecture: it trains with binaries.train and exports
    with binaries.export), measured_latency.json, search_summary.json (best = {genotype,
    predicted_latency_ms, measured_latency_ms, accuracy}, the history of every evaluated candidate,
    per-stage training and search times, ``warnings``: ``near_chance_warnings``) and TensorBoard events under tensorboard/ (every evaluated
    candidate is an HParams trial under tensorboard/trials/<stage>/, ``stage_trials``).
    """
    from tfnas.hardware import latency_table, space_generation
    from tfnas.spaces.base import save_genotype

    config.validate()
    settings = config.settings()
    # A bad table or an infeasible limit fails before any data is loaded or anything is written.
    table = latency_table.LatencyTable.load(config.device_table)
    data = data_lib.load_image_data(config.dataset, config.data_dir, image_size=config.resolution)
    geometry = hurricane.HurricaneConfig(config.resolution, config.width_multiplier, data.image_shape[-1],
                                         data.num_classes)
    table.check_geometry(geometry, config.device_table)
    generated = space_generation.generate_space(table, config.top_k, latency_weight=config.latency_weight)
    table.check_complete(generated.candidates)
    fastest = check_limit(table, generated.candidates, settings.max_latency_ms)

    run_dir = RunDirectory(config.output_dir, fresh=config.fresh)
    run_config = {**dataclasses.asdict(config), "device_table": os.path.abspath(config.device_table)}
    run_dir.check_config(run_config, resumable_keys=HurricaneSearchConfig.RESUMABLE, safe_keys=("learning_rate",))
    space_path = run_dir.file("generated_space.json")
    if not os.path.exists(space_path):
        write_json(space_path, generated.to_json())
    logging.info("hardware-aware space for %s (%d threads), top-%d per layer:\n%s", table.device.get("cpu_model"),
                 table.num_threads, generated.top_k, generated.summary())

    writer = SummaryWriter(os.path.join(run_dir.tensorboard, "search"))
    start = time.perf_counter()
    results, _ = search(generated, table, geometry, settings, data, run_dir.path,
                        on_result=_write_candidate(writer, settings), verbose=config.verbose)
    best = results[-1]
    genotype = hurricane.HurricaneGenotype(best.best_ops, geometry.resolution, geometry.width_multiplier)
    save_genotype(genotype, run_dir.file("genotype.json"))

    measured = None
    if config.measure_best:
        measured = read_json(run_dir.file("measured_latency.json"))
        if measured is None:
            measured = latency_table.measure_architecture(
                genotype, geometry.num_classes, geometry.input_channels, num_threads=table.num_threads,
                num_runs=config.num_runs, warmup_runs=config.warmup_runs).to_json()
            write_json(run_dir.file("measured_latency.json"), measured)
    statistic = table.measurement.get("statistic", "median")
    warnings = near_chance_warnings(results, geometry.num_classes)
    for warning in warnings:
        logging.warning("%s", warning)
    summary = {
        "method": "hurricane", "space": hurricane.SPACE, "seed": settings.seed, "dataset": config.dataset,
        "wall_time_s": time.perf_counter() - start,
        "training_time_s": sum(r.train_seconds for r in results),
        "device_table": {"path": os.path.abspath(config.device_table), "device": table.device,
                         "num_threads": table.num_threads, "statistic": statistic},
        "max_latency_ms": settings.max_latency_ms, "fastest_possible_ms": fastest,
        "best": {"genotype": genotype.to_json(), "predicted_latency_ms": best.predicted_latency_ms,
                 "measured_latency_ms": None if measured is None else measured[f"{statistic}_ms"],
                 "measured": measured, "accuracy": best.accuracy},
        "stages": [{k: v for k, v in r.to_json().items() if k != "history"} for r in results],
        "history": [h for r in results for h in r.history],
        "settings": settings.to_json(),
        "warnings": warnings,
    }
    write_json(run_dir.file("search_summary.json"), summary)
    writer.text("best/genotype", json.dumps(genotype.to_json()), 0)
    writer.close()
    return summary
