"""Flags of the discrete search binaries (search_random, search_evolution, search_pnas).

Two modes: ``--benchmark=nasbench201`` answers every architecture from the NAS-Bench-201 table
(tabular mode, seconds per search); without ``--benchmark`` every candidate is a PNAS child
network trained on ``--dataset`` (real mode). Defaults of the PNAS flags are the paper's values
for a full run (B=5, K=256, ensembles of 5, 20 epochs per candidate, N=2, F=24); the
tabular SMBO has its own, measured defaults (docs/METHODS.md).
"""
from __future__ import annotations

import dataclasses

from absl import flags

from flags import common, executor  # noqa: F401  (every discrete binary takes the common and executor flags too)
from tfnas.benchmarks.nasbench201 import DEFAULT_FILE, OBJECTIVES
from tfnas.configs.discrete import DiscreteSearchConfig, surrogate_kinds, target_transform

# --- what is searched, and how it is judged ---------------------------------------------------------------
BENCHMARK = flags.DEFINE_enum(
    "benchmark", None, ["nasbench201", "table"],
    "Tabular benchmark to answer queries from (tabular mode): nasbench201, or table (your own CSV / JSON of "
    "measured architectures, --benchmark_file with --table_choices and --table_objective). Unset: real mode, "
    "candidates are PNAS child networks trained on --dataset.")
BENCHMARK_FILE = flags.DEFINE_string(
    "benchmark_file", None, "Path of the table: nasbench201.csv (default: the shared benchdata folder next to the "
                            "repo) or, with --benchmark=table, your CSV (header row) or JSON list of rows.")
TABLE_CHOICES = flags.DEFINE_list(
    "table_choices", None, "--benchmark=table: the columns that are choices (the rest of the numeric columns are "
                           "metrics). Unset: read from <benchmark_file>.schema.json.")
TABLE_OBJECTIVE = flags.DEFINE_string(
    "table_objective", None, "--benchmark=table: the metric column searched for. Unset: from the schema file.")
TABLE_MODE = flags.DEFINE_enum(
    "table_mode", None, ["max", "min"], "--benchmark=table: maximise or minimise the objective (default: the "
                                        "schema file's, else max).")
LATENCY_FILE = flags.DEFINE_string(
    "latency_file", None, "Tabular mode: your own measured latencies, joined on the architecture (a CSV with the "
                          "column arch for nasbench201, the choice columns for a table, and latency_ms); reported and "
                          "limited like a --device column.")
MAX_LATENCY_PERCENTILE = flags.DEFINE_float(
    "max_latency_percentile", None, "Tabular mode: limit latency to this percentile of the table's latencies "
                                    "(e.g. 25: the fastest quarter), instead of --max_latency_ms.")
OBJECTIVE = flags.DEFINE_enum(
    "objective", "cifar10", sorted(OBJECTIVES),
    "Tabular mode: whose test accuracy is maximised (the table's <objective>_test_acc column).")
MAX_EVALUATIONS = flags.DEFINE_integer(
    "max_evaluations", None,
    "Number of architectures to evaluate. Default: 100, except progressive PNAS (real mode), which runs "
    "until its last level (136 + (B-1) x K cells) unless this caps it.", lower_bound=1)
TARGET = flags.DEFINE_float(
    "target", None, "Stop once the best objective value reaches this (e.g. --target=94.0 in tabular mode); the "
                    "summary then says stopped_at_target. Unset: run the whole --max_evaluations budget.")
DEVICE = flags.DEFINE_string(
    "device", None, "Tabular mode: device whose latency column (latency_ms_<device>) is reported and limited, "
                    "e.g. pixel3, raspi4, fpga, eyeriss, gold_6226, 1080ti_1.")
MAX_LATENCY_MS = flags.DEFINE_float(
    "max_latency_ms", None, "Tabular mode: only search cells whose --device latency is at most this (ms).")

# --- regularized evolution ------------------------------------------------------------------------------------
EVOLUTION_POPULATION_SIZE = flags.DEFINE_integer(
    "evolution_population_size", 10,
    "Regularized evolution: population size P (the most recent P evaluated). Default 10 is NAS-Bench-201's "
    "setting for its table; Real et al. 2019 used P=100 on their large CIFAR-10 runs.", lower_bound=1)
EVOLUTION_TOURNAMENT_SIZE = flags.DEFINE_integer(
    "evolution_tournament_size", 5,
    "Regularized evolution: tournament size S (<= P). Default 5 is NAS-Bench-201's setting; Real et al. 2019 "
    "used S=25 (with P=100).", lower_bound=1)
EVOLUTION_DEDUPLICATE = flags.DEFINE_bool(
    "evolution_deduplicate", False,
    "Regularized evolution: redraw a child that was already evaluated (off in the paper).")
EVOLUTION_ASYNCHRONOUS = flags.DEFINE_bool(
    "evolution_asynchronous", False,
    "Regularized evolution on several workers (--executor=ray): tell each result as it arrives and give every free "
    "worker a child at once (the paper's asynchronous workers); the history then depends on which evaluation "
    "finishes first. Off: each child waits for the previous child's result, the same history for any --num_workers.")

# --- PNAS: progressive search (real mode) and the tabular SMBO core -------------------------------------------
PNAS_BLOCKS = flags.DEFINE_integer(
    "pnas_blocks", 5, "PNAS: blocks per cell B (paper: 5). Random search / evolution in real mode search "
                      "cells of exactly this many blocks.", lower_bound=1)
PNAS_BEAM_SIZE = flags.DEFINE_integer(
    "pnas_beam_size", 256, "PNAS progressive: K, cells kept and trained per level (paper: 256).", lower_bound=1)
PNAS_INITIAL_CELLS = flags.DEFINE_integer(
    "pnas_initial_cells", None, "PNAS progressive: train only this many random 1-block cells at level 1 "
                                "(default: all 136, as in the paper; for budget-limited runs).", lower_bound=1)
SMBO_BATCH_SIZE = flags.DEFINE_integer(
    "smbo_batch_size", 10, "PNAS tabular SMBO: K, architectures evaluated per predictor refit.", lower_bound=1)
SMBO_INITIAL_SIZE = flags.DEFINE_integer(
    "smbo_initial_size", 20, "PNAS tabular SMBO: random architectures evaluated before the first fit.", lower_bound=1)
PNAS_SURROGATE = flags.DEFINE_enum(
    "pnas_surrogate", None, ["lstm", "mlp", "both"],
    "PNAS predictor: LSTM ensemble, MLP ensemble, or both (mean of the two). Default: both in real mode (the "
    "paper's LSTM and MLP ensembles), mlp in tabular mode (measured: as good on NAS-Bench-201, ~5x cheaper).")
PNAS_ENSEMBLE_SIZE = flags.DEFINE_integer(
    "pnas_ensemble_size", 5, "PNAS: predictors per ensemble, each trained on a different 4/5 split (paper: 5).",
    lower_bound=1)
PNAS_SURROGATE_UNITS = flags.DEFINE_integer(
    "pnas_surrogate_units", 100, "PNAS: embedding size and LSTM / MLP hidden units D (paper: 100).", lower_bound=1)
PNAS_SURROGATE_EPOCHS = flags.DEFINE_integer(
    "pnas_surrogate_epochs", 100, "PNAS: passes over the data of the predictor's first fit (from scratch) [U].",
    lower_bound=1)
PNAS_SURROGATE_REFIT = flags.DEFINE_enum(
    "pnas_surrogate_refit", "warm", ["warm", "cold"],
    "PNAS: warm: every refit after the first continues from the previous one (the paper fine-tunes its "
    "predictor on new results [U]); cold: every refit from scratch (--pnas_surrogate_epochs passes over all "
    "results; cost grows with the square of the budget).")
PNAS_SURROGATE_REFIT_EPOCHS = flags.DEFINE_integer(
    "pnas_surrogate_refit_epochs", 300,
    "PNAS: a warm refit trains this many passes' worth of minibatches over the results added since the last "
    "refit [U; measured, docs/BENCHMARKS.md].", lower_bound=1)
PNAS_SURROGATE_REFIT_NEW_FRACTION = flags.DEFINE_float(
    "pnas_surrogate_refit_new_fraction", 0.5,
    "PNAS: part of every warm-refit batch drawn from the results added since the last refit; the rest is drawn "
    "from all results (replay) [U; measured, docs/BENCHMARKS.md].", lower_bound=0.0, upper_bound=0.99)
PNAS_SURROGATE_RESTART_GROWTH = flags.DEFINE_float(
    "pnas_surrogate_restart_growth", 1.25,
    "PNAS warm refits: fit from scratch again once the results have grown this many times since the last fresh "
    "fit (a warm start keeps the basin of a fit on much less data; geometric restarts keep the cost linear). "
    "0: never [measured, docs/BENCHMARKS.md].", lower_bound=0.0)
PNAS_SURROGATE_LR = flags.DEFINE_float("pnas_surrogate_lr", 0.003, "PNAS: Adam learning rate of the predictors [U].")
PNAS_TARGET_TRANSFORM = flags.DEFINE_enum(
    "pnas_target_transform", None, ["rank", "minmax"],
    "PNAS: what the predictors regress. minmax: the accuracy scaled into the sigmoid's range (the paper's "
    "plain regression; the real-mode default); rank: the accuracy's rank among the training data (the "
    "tabular default: measured better on NAS-Bench-201).")
PNAS_CELL_OUTPUT = flags.DEFINE_enum(
    "pnas_cell_output", "all_blocks", ["all_blocks", "unused_blocks"],
    "Real mode: what a PNAS cell concatenates into its output. all_blocks: every block, as the released "
    "PNASNet-5 does; unused_blocks: only blocks no other block reads (NASNet's rule).")

# --- candidate training (real mode) --------------------------------------------------------------------------------
PNAS_EPOCHS_PER_CANDIDATE = flags.DEFINE_integer(
    "pnas_epochs_per_candidate", 20, "Real mode: training epochs per candidate (paper: 20).", lower_bound=1)
PNAS_CELLS = flags.DEFINE_integer(
    "pnas_cells", 2, "Real mode: cells per stage N of a candidate network (paper: 2 while searching).", lower_bound=1)
PNAS_FILTERS = flags.DEFINE_integer(
    "pnas_filters", 24, "Real mode: filters F of the first stage of a candidate (paper: 24), doubled per reduction.",
    lower_bound=2)
CANDIDATE_LEARNING_RATE = flags.DEFINE_float(
    "candidate_learning_rate", 0.025, "Real mode: initial SGD learning rate of a candidate (cosine decay) [U].")
CANDIDATE_WEIGHT_DECAY = flags.DEFINE_float(
    "candidate_weight_decay", 5e-4,
    "Real mode: weight decay of a candidate [U for the search-time recipe; 5e-4 is the NASNet/PNASNet CIFAR "
    "arg scope of the authors' released code]. 0 disables it.", lower_bound=0.0)
CANDIDATE_WEIGHT_DECAY_TYPE = flags.DEFINE_enum(
    "candidate_weight_decay_type", "l2", ["l2", "decoupled"],
    "Real mode: l2: coupled L2 on conv / depthwise / dense kernels only (0.5 * wd * |w|^2 added to the loss, "
    "as the authors' TF-slim code and PyTorch's SGD weight_decay do; BN and biases not decayed); decoupled: "
    "tf-keras' SGD weight_decay (every variable, BN and biases included, shrunk by lr_t * wd before each step).")
CANDIDATE_VALIDATION_PORTION = flags.DEFINE_float(
    "candidate_validation_portion", 0.1,
    "Real mode: part of the training split held out to score candidates (paper: 5k of CIFAR-10's 50k).")
CANDIDATE_AUGMENT = flags.DEFINE_bool(
    "candidate_augment", True, "Real mode: random crop (and flip where labels allow) while training candidates.")


# --- mode-dependent defaults (tfnas.configs.discrete decides them) -------------------------------------------------
def pnas_surrogate_kinds(tabular: bool) -> tuple[str, ...]:
    """--pnas_surrogate as predictor kinds: the paper's LSTM + MLP ensembles in real mode, the
    measured MLP ensemble in tabular mode, unless the flag is given."""
    return surrogate_kinds(PNAS_SURROGATE.value, tabular)


def pnas_target_transform(tabular: bool) -> str:
    """--pnas_target_transform: the paper's regression (minmax) in real mode, rank in tabular mode."""
    return target_transform(PNAS_TARGET_TRANSFORM.value, tabular)


def config(method: str) -> DiscreteSearchConfig:
    """The flags as the DiscreteSearchConfig of ``method`` (random, evolution, pnas)."""
    return DiscreteSearchConfig(method=method, **{name: flags.FLAGS[name].value for name in FLAG_NAMES})


FLAG_NAMES = tuple(f.name for f in dataclasses.fields(DiscreteSearchConfig) if f.name != "method")
"""Every setting of a discrete search is the flag of the same name (flags.common, flags.executor and these)."""
