"""Flags of binaries.search_bats: the BATS ingredients on top of the common and search flags.

Defaults are BATS' choices where the paper states them and documented choices where it does not
(docs/METHODS.md, BATS). --temperature and its schedule are flags/search.py's and the distillation flags are
flags/distillation.py's; binaries.search_bats sets their BATS defaults (T = 0.2, kd_weight 1,
teacher = the real-valued supernet).
"""
from __future__ import annotations

from absl import flags

from flags import binary_network  # noqa: F401  (--groups, --shuffle_groups, --binary_preprocess, --binary_downsample)
from flags import distillation  # noqa: F401  (--kd_weight, --kd_temperature, --teacher; search_bats sets defaults)

METHOD = flags.DEFINE_enum(
    "method", "darts", ["darts", "single_darts"],
    "Architecture update: darts = bi-level DARTS (architecture on the validation part, --order 1 or 2; BATS builds on "
    "DARTS), single_darts = weights and architecture from the same batch.")
NAIVE = flags.DEFINE_bool(
    "naive", False, "The baseline BATS argues against: DARTS' search space and ops with every convolution binarised "
    "(sign in place of each ReLU), genotypes in the DARTS space. Train the result with binaries.train --binary.")
BINARIZE = flags.DEFINE_enum(
    "binarize", "activations", ["none", "activations", "weights_and_activations"],
    "What is binary during the search: none (real-valued BATS ops), activations (binary activations, real weights; "
    "the default), weights_and_activations (fully binary).")
BINARIZE_WARMUP_EPOCHS = flags.DEFINE_integer(
    "binarize_warmup_epochs", 0, "Progressive binarisation: over the first N epochs the binarised quantities are "
    "blended in linearly, f * binary(x) + (1 - f) * x with f from 0 to 1. 0 = binary from the start.")
TEACHER_EPOCHS = flags.DEFINE_integer(
    "teacher_epochs", None, "Epochs of the real-valued teacher search (default: --epochs).")
DEPLOY_INIT_CHANNELS = flags.DEFINE_integer(
    "deploy_init_channels", 64, "Initial channels of the network the found genotype will be trained and deployed as "
    "(binaries.train --binary --init_channels; 64 = its default). With --groups unset the search network's grouped "
    "binary convs get that network's groups (LCE: a multiple of 32 input channels per group, so 64 -> 2), so the "
    "op the search scores is the op that is deployed.")
