"""Flags of binaries.quickstart, the README's main job (defaults finish in minutes on a 2-core CPU)."""
from __future__ import annotations

from absl import flags

SEARCH_EPOCHS = flags.DEFINE_integer("search_epochs", 10, "Single-DARTS search epochs.")
SEARCH_FINAL_TEMPERATURE = flags.DEFINE_float(
    "search_final_temperature", 0.2, "The search's architecture softmax temperature falls exponentially from 1 to this "
    "over the search epochs, so that a 10-epoch search commits to one op per edge (docs/METHODS.md, Single-DARTS: "
    "small budgets). 1 = Single-DARTS' constant T = 1.")
SEARCH_TRAIN_PORTION = flags.DEFINE_float(
    "search_train_portion", 0.5, "Part of the training split the search trains on; the rest gives the summary's "
    "held-out supernet accuracy (1.0: all of it, accuracy then in-sample).")
SEARCH_LAYERS = flags.DEFINE_integer("search_layers", 2, "NAS-Bench-201 search network: cells per stage.")
TRAIN_EPOCHS = flags.DEFINE_integer("train_epochs", 10, "Training epochs of the found cell's network.")
TRAIN_LAYERS = flags.DEFINE_integer("train_layers", 2, "Trained NAS-Bench-201 network: cells per stage.")
CHANNELS = flags.DEFINE_integer("channels", 16, "Initial channels C of both networks (NAS-Bench-201 uses 16).")
BENCHMARK_FILE = flags.DEFINE_string(
    "nasbench201_file", None, "NAS-Bench-201 table (nasbench201.csv) to look the found cell up in; default: "
    "../shared/benchdata/nasbench201.csv next to the repository if present (skipped when absent).")
LATENCY_THREADS = flags.DEFINE_integer("latency_threads", 1, "LiteRT threads for the latency measurement.")
