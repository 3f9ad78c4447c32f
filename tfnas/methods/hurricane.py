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
import math
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
from tfnas.spaces import hurricane
from tfnas.supernets.single_path import PathSGD, SinglePathSupernet, light_graph_optimization
from tfnas.errors import UserInputError
from tfnas.files import read_json, write_json

keras = tf.keras


class HurricaneError(UserInputError):
    """A HURRICANE search request that cannot run (infeasible limit, inconsistent inputs)."""


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """Everything that determines a HURRICANE search's result (saved to output_dir/config.json)."""

    max_latency_ms: float
    stages: int = 2
    stage_split: int = 8
    epochs: int = 10
    steps_per_epoch: int | None = None
    batch_size: int = 64
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 4e-5
    train_portion: float = 0.8
    recalibration_batches: int = 20
    eval_examples: int = 1000
    population_size: int = 50
    generations: int = 20
    num_parents: int = 10
    num_mutations: int = 25
    num_crossovers: int = 25
    mutation_prob: float = 0.1
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """Which layers a stage searches, and which ops the other layers are fixed to."""

    name: str
    searched: tuple[int, ...]
    fixed: dict[int, str]
    frozen: tuple[int, ...]

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
            self.supernet.recalibrate_bn(path, self.recalibration)
            accuracy = self.supernet.evaluate_path(path, self.validation)
        return {"accuracy": float(accuracy), "predicted_latency_ms": float(self.table.predict(ops))}


# --- training ------------------------------------------------------------------------------------------
def make_supernet(config: hurricane.HurricaneConfig, candidates: Sequence[Sequence[str]], settings: SearchSettings,
                  frozen: Sequence[int] = ()) -> SinglePathSupernet:
    supernet = SinglePathSupernet(config, candidates, seed=settings.seed, frozen_layers=frozen)
    optimizer = PathSGD(learning_rate=settings.learning_rate, momentum=settings.momentum,
                        weight_decay_l2=settings.weight_decay).attach(supernet)
    supernet.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return supernet


def copy_weights(source: SinglePathSupernet, target: SinglePathSupernet) -> int:
    """Copy stem, head and every op both supernets have at the same layer; returns how many ops were copied."""
    target.stem.set_weights(source.stem.get_weights())
    target.head.set_weights(source.head.get_weights())
    copied = 0
    for src_layer, dst_layer in zip(source.choice_layers, target.choice_layers):
        for j, op in enumerate(dst_layer.op_names):
            if op in src_layer.op_names:
                dst_layer.candidates[j].set_weights(src_layer.candidates[src_layer.op_names.index(op)].get_weights())
                copied += 1
    return copied


def train_supernet(supernet: SinglePathSupernet, data: data_lib.ImageData, indices: np.ndarray,
                   settings: SearchSettings, stage_dir: str, log_dir: str | None = None,
                   verbose: int = 2) -> float:
    """Train with model.fit (resumable per epoch via BackupAndRestore); returns the training wall time (s).

    Finished training leaves ``stage_dir/supernet.weights.*`` and ``stage_dir/trained.json`` (with the
    wall time); calling again then only loads the weights.
    """
    done_path = os.path.join(stage_dir, "trained.json")
    weights_path = os.path.join(stage_dir, "supernet.weights")
    if os.path.exists(done_path):
        supernet.load_weights(weights_path).expect_partial()
        with open(done_path) as f:
            return float(json.load(f)["train_seconds"])
    steps = data_lib.steps_for(len(indices), settings.batch_size, settings.steps_per_epoch)
    # Learning rate decays linearly to 0 over the stage (SPOS); the step counter drives it.
    total = steps * settings.epochs
    schedule = keras.optimizers.schedules.PolynomialDecay(settings.learning_rate, total, 0.0)
    supernet.optimizer.learning_rate = schedule
    stream = data_lib.train_stream(data, indices, settings.batch_size, settings.seed,
                                   data_lib.Augment.standard(data), steps_per_epoch=steps)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.BackupAndRestore(os.path.join(stage_dir, "backup")),
        keras.callbacks.TerminateOnNaN()]
    if log_dir:
        callbacks.append(keras.callbacks.TensorBoard(log_dir, write_graph=False, profile_batch=0))
    timer = _EpochTimer(os.path.join(stage_dir, "epoch_times.json"))
    callbacks.append(timer)
    with light_graph_optimization():
        history = supernet.fit(stream, epochs=settings.epochs, steps_per_epoch=steps, callbacks=callbacks,
                               verbose=verbose)
    losses = history.history.get("loss", [])
    if losses and not all(math.isfinite(v) for v in losses):
        raise HurricaneError(f"supernet training diverged (loss {losses[-1]}); lower --learning_rate")
    supernet.save_weights(weights_path)
    seconds = timer.total()
    write_json(done_path, {"train_seconds": seconds, "epochs": settings.epochs, "steps_per_epoch": steps,
                           "final_loss": losses[-1] if losses else None})
    return seconds


class _EpochTimer(keras.callbacks.Callback):
    """Wall time per finished epoch, persisted, so a resumed training still reports its whole time."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.times: dict[str, float] = read_json(path, {})

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times[str(epoch)] = time.perf_counter() - self._start
        write_json(self.path, self.times)

    def total(self) -> float:
        return float(sum(self.times.values()))


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
    stage_dir = os.path.join(output_dir, plan.name)
    os.makedirs(stage_dir, exist_ok=True)
    result_path = os.path.join(stage_dir, "result.json")
    supernet = make_supernet(config, plan.candidates(generated), settings, plan.frozen)
    if init_from is not None and not os.path.exists(os.path.join(stage_dir, "trained.json")):
        copy_weights(init_from, supernet)
    train_idx, heldout_idx = data.search_split(settings.train_portion, settings.seed)
    train_seconds = train_supernet(supernet, data, train_idx, settings, stage_dir,
                                   os.path.join(output_dir, "tensorboard", plan.name), verbose)
    if os.path.exists(result_path):
        with open(result_path) as f:
            return StageResult.from_json(json.load(f)), supernet
    constraint = latency_constraint(table, plan, settings.max_latency_ms)
    space = stage_space(plan, generated, constraint)
    searcher = SPOSEvolution(space, "accuracy", seed=settings.seed, population_size=settings.population_size,
                             num_parents=settings.num_parents, num_mutations=settings.num_mutations,
                             num_crossovers=settings.num_crossovers, mutation_prob=settings.mutation_prob)
    recal, val = evaluation_batches(data, train_idx, heldout_idx, settings)
    evaluator = SupernetEvaluator(supernet, plan, table, recal, val)
    start = time.perf_counter()
    budget = settings.population_size * settings.generations

    def report(n: int, arch: dict, metrics: dict) -> None:
        if on_result is not None:
            on_result(plan.name, n, arch, metrics)

    try:
        run_search(searcher, evaluator, budget, state_path=os.path.join(stage_dir, "search_state.json"),
                   on_result=report)
    except SpaceExhausted:
        if not searcher.history:
            raise
        logging.warning("%s: every feasible architecture was evaluated after %d candidates; stopping the search",
                        plan.name, len(searcher.history))
    search_seconds = time.perf_counter() - start
    best = searcher.best()
    history = [{"stage": plan.name, "ops": list(full_ops(plan, h["arch"])), **h["metrics"]} for h in searcher.history]
    result = StageResult(plan.name, full_ops(plan, best["arch"]), float(best["metrics"]["accuracy"]),
                         float(best["metrics"]["predicted_latency_ms"]), train_seconds, search_seconds, history)
    write_json(result_path, result.to_json())
    return result, supernet


def plans(generated: Sequence[Sequence[str]], table: LatencyTable, settings: SearchSettings) -> list[StagePlan]:
    """Stage 1 plan (two-stage) or the single all-layer plan (one-stage SPOS)."""
    layers = range(hurricane.NUM_LAYERS)
    if settings.stages == 1:
        return [StagePlan("spos", tuple(layers), {}, ())]
    if settings.stages != 2:
        raise HurricaneError(f"--stages must be 1 (one-stage SPOS) or 2 (HURRICANE two-stage), got {settings.stages}")
    if not 0 < settings.stage_split < hurricane.NUM_LAYERS:
        raise HurricaneError(f"--stage_split must be in 1..{hurricane.NUM_LAYERS - 1}, got {settings.stage_split}")
    early = tuple(i for i in layers if i < settings.stage_split)
    later = tuple(i for i in layers if i >= settings.stage_split)
    fastest = {i: min(generated[i], key=lambda op, i=i: table.op_latency(i, op)) for i in early}
    return [StagePlan("stage1", later, fastest, ())]


def second_plan(first: StageResult, settings: SearchSettings) -> StagePlan:
    later = {i: first.best_ops[i] for i in range(settings.stage_split, hurricane.NUM_LAYERS)}
    return StagePlan("stage2", tuple(range(settings.stage_split)), later, tuple(sorted(later)))


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
