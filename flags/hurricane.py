"""Flags of binaries.search_hurricane (HURRICANE: hardware-aware space generation + two-stage SPOS search)."""
from __future__ import annotations

from absl import flags

from flags import common, hardware  # noqa: F401  (--dataset, --output_dir, ..., --resolution, --width_multiplier)

DEVICE_TABLE = flags.DEFINE_string(
    "device_table", None, "Operator latency table of the target device (JSON written by "
    "binaries.profile_latency --build_table) for the same --resolution and --width_multiplier.")
MAX_LATENCY_MS = flags.DEFINE_float(
    "max_latency_ms", None, "Hard latency limit (ms, predicted from --device_table): candidates above it are never "
    "evaluated.")
TOP_K = flags.DEFINE_integer("top_k", 4, "Candidate ops kept per layer by hardware-aware space generation.")
LATENCY_WEIGHT = flags.DEFINE_float(
    "latency_weight", 1.0, "[U] Weight of log latency against log capacity (MACs) when ranking ops within a Pareto "
    "front during space generation; 1 ranks by MACs per ms.")
STAGES = flags.DEFINE_integer(
    "stages", 2, "2: HURRICANE's two-stage search (later layers first, then the early ones; --stage1_epochs and "
    "--stage2_epochs); 1: one-stage SPOS over all 20 layers for --epochs (the baseline).")
STAGE_SPLIT = flags.DEFINE_integer(
    "stage_split", 8, "[U] Layers [0, stage_split) are the 'early' layers searched in stage 2 (default: the first "
    "two stages, 4 + 4 layers); the rest are searched first.")
STAGE1_EPOCHS = flags.DEFINE_integer(
    "stage1_epochs", None, "[U] Supernet training epochs of stage 1 (default: --epochs x the share of layers it "
    "searches, (20 - stage_split) / 20, rounded: 6 of 10). Together with --stage2_epochs as many steps as one-stage "
    "SPOS with --epochs, in about 0.7x its time (docs/METHODS.md, HURRICANE).")
STAGE2_EPOCHS = flags.DEFINE_integer(
    "stage2_epochs", None, "[U] Supernet training epochs of stage 2 (default: --epochs x stage_split / 20, rounded: "
    "4 of 10).")
BN_AFFINE = flags.DEFINE_bool(
    "bn_affine", False, "Learn BN scale and offset in the supernet (SPOS: off, BatchNorm2d(affine=False)); the "
    "child network always has them, starting from 1 and 0.")
SUPERNET_LABEL_SMOOTHING = flags.DEFINE_float(
    "supernet_label_smoothing", 0.1, "Label smoothing of the supernet's cross-entropy (SPOS: 0.1).")
LEARNING_RATE = flags.DEFINE_float(
    "learning_rate", 0.05, "Supernet SGD learning rate, decayed linearly to 0 over each stage (SPOS: 0.5 at "
    "batch 1024; scaled to batch 64 and rounded up).")
MOMENTUM = flags.DEFINE_float("momentum", 0.9, "Supernet SGD momentum (SPOS: 0.9).")
WEIGHT_DECAY = flags.DEFINE_float("weight_decay", 4e-5, "L2 weight decay on convolution/dense kernels (SPOS: 4e-5).")
TRAIN_PORTION = flags.DEFINE_float(
    "train_portion", 0.8, "Part of the training split that trains the supernet; candidates are scored on the rest.")
RECALIBRATION_BATCHES = flags.DEFINE_integer(
    "recalibration_batches", 200, "Training batches that recompute a candidate's BN statistics before it is scored "
    "(SPOS: 200); at most the batches the supernet's training part holds (50 for mnist_embedded at batch 64).")
EVAL_EXAMPLES = flags.DEFINE_integer("eval_examples", 1000, "Held-out examples each candidate is scored on.")
POPULATION_SIZE = flags.DEFINE_integer("population_size", 50, "Evolution population per generation (SPOS: 50).")
GENERATIONS = flags.DEFINE_integer("generations", 20, "Evolution generations per stage (SPOS: 20).")
NUM_PARENTS = flags.DEFINE_integer("num_parents", 10, "Top architectures kept as parents (SPOS: 10).")
NUM_MUTATIONS = flags.DEFINE_integer("num_mutations", 25, "Mutants per generation (SPOS: 25).")
NUM_CROSSOVERS = flags.DEFINE_integer("num_crossovers", 25, "Crossover children per generation (SPOS: 25).")
MUTATION_PROB = flags.DEFINE_float("mutation_prob", 0.1, "Per-layer probability of re-drawing an op in a mutant (SPOS: 0.1).")
MEASURE_BEST = flags.DEFINE_bool(
    "measure_best", True, "Export the best architecture to TFLite and measure its latency with LiteRT on this machine.")
