"""Flags of binaries.train: the DARTS evaluation recipe, every knob a flag (defaults = the recipe)."""
from __future__ import annotations

from absl import flags

GENOTYPE = flags.DEFINE_string("genotype", None, "Path of a genotype.json written by any search binary.")
INHERIT_FROM = flags.DEFINE_string(
    "inherit_from", None, "Output_dir of a finished ViTAS search (binaries.search_vitas): start from the "
    "super-transformer's sliced weights of --genotype (its inherited_model/) instead of a random initialisation.")
LAYERS = flags.DEFINE_integer(
    "layers", None, "Network depth: DARTS cells in total (recipe: 20); NAS-Bench-201 cells per stage (5).")
INIT_CHANNELS = flags.DEFINE_integer("init_channels", None, "Initial channels (recipe: DARTS 36, NAS-Bench-201 16).")
LEARNING_RATE = flags.DEFINE_float("learning_rate", 0.025, "SGD learning rate, cosine-annealed per epoch.")
MIN_LEARNING_RATE = flags.DEFINE_float("min_learning_rate", 0.0, "Final learning rate of the cosine schedule.")
MOMENTUM = flags.DEFINE_float("momentum", 0.9, "SGD momentum.")
WEIGHT_DECAY = flags.DEFINE_float("weight_decay", 3e-4, "L2 weight decay (added to the gradient, as PyTorch).")
GRAD_CLIP = flags.DEFINE_float("grad_clip", 5.0, "Global-norm gradient clip (0 disables).")
CUTOUT = flags.DEFINE_integer(
    "cutout", -1, "Cutout square side in pixels; -1 = the recipe's 16 px at 32x32 scaled to the image size; 0 = off.")
DROP_PATH = flags.DEFINE_float("drop_path", 0.2, "Final drop-path probability (rises linearly from 0 over epochs).")
AUXILIARY = flags.DEFINE_bool("auxiliary", True, "Auxiliary classifier at 2/3 depth (DARTS space only).")
AUXILIARY_WEIGHT = flags.DEFINE_float("auxiliary_weight", 0.4, "Weight of the auxiliary loss.")
LABEL_SMOOTHING = flags.DEFINE_float("label_smoothing", 0.0, "Label smoothing (DARTS' ImageNet recipe: 0.1).")
WARMUP_EPOCHS = flags.DEFINE_integer("warmup_epochs", 0, "Linear learning-rate warm-up epochs before the cosine.")
STEM = flags.DEFINE_enum("stem", "auto", ["auto", "cifar", "imagenet"],
                         "DARTS network stem: cifar (one conv), imagenet (three stride-2 convs); auto picks by input size.")

# Binary networks (BATS, naive binary DARTS) and distillation.
from flags import binary_network  # noqa: E402,F401  (--groups, --shuffle_groups, --binary_preprocess, --binary_downsample)
from flags import distillation  # noqa: E402,F401  (--kd_weight, --kd_temperature, --teacher)

BINARY = flags.DEFINE_bool(
    "binary", False, "Train the genotype's binary network (Larq; BATS genotypes, or a DARTS genotype as naive binary "
    "DARTS) with the two-stage binary recipe: binary activations and real weights for --binary_stage1_epochs, then "
    "fully binary. Flags left unset take the binary recipe's values: --optimizer=adam --learning_rate=0.001 "
    "--weight_decay=0.")
BINARY_STAGE1_EPOCHS = flags.DEFINE_integer(
    "binary_stage1_epochs", -1, "With --binary: epochs of stage 1 (real weights); -1 = half of --epochs, 0 = binary "
    "weights from the start. Each stage anneals its own cosine learning rate.")
OPTIMIZER = flags.DEFINE_enum("optimizer", "sgd", ["sgd", "adam"],
                              "Weight optimizer: sgd with --momentum (DARTS recipe) or adam (binary recipe).")
LCE_COMPATIBLE = flags.DEFINE_bool(
    "lce_compatible", True, "With --binary (BATS): insist on widths/groups whose grouped binary convs convert to LCE "
    "binary ops (a multiple of 32 input channels per group), failing with a fix otherwise; false allows any.")
