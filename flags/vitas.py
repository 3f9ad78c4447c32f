"""Flags of binaries.search_vitas (ViTAS: super-transformer, identity-probability tuning, evolution in a FLOPs window).

Defaults are the paper's / the authors' code's (xiusu/ViTAS, config/search/vit_tiny_search_1G_search.yaml);
[U] marks what neither fixes (docs/METHODS.md, ViTAS).
"""
from __future__ import annotations

from absl import flags

from flags import common  # noqa: F401  (--dataset, --output_dir, --epochs, --batch_size, --image_size, ...)

MIN_MFLOPS = flags.DEFINE_float(
    "min_mflops", None, "Lower end of the FLOPs window, in MFLOPs = millions of multiply-accumulates per image (the "
    "convention ViT papers call FLOPs; the paper's 1G search uses [900, 1000]).")
MAX_MFLOPS = flags.DEFINE_float(
    "max_mflops", None, "Upper end of the FLOPs window in MFLOPs (multiply-accumulates, see --min_mflops).")
SPACE_CONFIG = flags.DEFINE_enum(
    "space_config", "cpu_28", ["cpu_28", "vitas_1g"],
    "Super-transformer geometry: cpu_28 (28x28, patches {4,7,14}, widths up to 64 / MLP 128, 6 slots; runs on a "
    "small CPU) or vitas_1g (the paper's 1G space: 224x224, patches {14,16,32}, embed 384, 16 slots of "
    "{3,6,12,16} heads, q/k/v 480 and MLP 1440 x {0.1..1.0}).")
PATCH_SIZES = flags.DEFINE_list(
    "patch_sizes", None, "Override the space config's patch sizes (each must divide the image size).")
NUM_SLOTS = flags.DEFINE_integer("num_slots", None, "Override the space config's number of block slots.")
WEIGHT_SHARING = flags.DEFINE_enum(
    "weight_sharing", "bcnet", ["left", "right", "bcnet"],
    "How a sub-transformer slices the largest weights: left (first channels), right (last channels), bcnet (both "
    "passes, logits summed into one loss; the authors' search config).")
PRIVATE_CLASS_TOKEN = flags.DEFINE_bool(
    "private_class_token", True, "One class token per patch size (ViTAS); false shares one (the paper's ablation).")
IDENTITY_SAMPLES = flags.DEFINE_integer(
    "identity_samples", 1000, "Subnets sampled per step of the identity-probability tuning (paper: 1,000).")
IDENTITY_STEP = flags.DEFINE_float("identity_step", 0.01, "Step of the identity-probability tuning (paper: 0.01).")
LEARNING_RATE = flags.DEFINE_float(
    "learning_rate", 1e-3, "Peak AdamW learning rate of the super-transformer (paper: 1e-3 at batch 1024).")
MIN_LEARNING_RATE = flags.DEFINE_float("min_learning_rate", 0.0, "Learning rate at the end of the cosine decay.")
WARMUP_EPOCHS = flags.DEFINE_integer("warmup_epochs", 5, "Linear warm-up epochs before the cosine (paper: 5).")
WEIGHT_DECAY = flags.DEFINE_float(
    "weight_decay", 0.05, "Decoupled AdamW weight decay on kernels and embeddings, not biases/LayerNorm (paper: 0.05).")
LABEL_SMOOTHING = flags.DEFINE_float("label_smoothing", 0.1, "Label smoothing of the supernet loss (paper: 0.1).")
CUTMIX_ALPHA = flags.DEFINE_float(
    "cutmix_alpha", 1.0, "CutMix Beta(alpha, alpha) on every supernet batch (authors' code: 1.0); 0 turns it off.")
TRAIN_PORTION = flags.DEFINE_float(
    "train_portion", 0.8, "[U] Part of the training split that trains the supernet; candidates are scored on the rest "
    "(the paper scores on ImageNet's validation set).")
EVAL_EXAMPLES = flags.DEFINE_integer(
    "eval_examples", 1000, "[U] Held-out examples each candidate's fitness is measured on.")
EVOLUTION_POPULATION_SIZE = flags.DEFINE_integer(
    "evolution_population_size", 50, "Evolution population and offspring per generation (paper: 50).")
EVOLUTION_GENERATIONS = flags.DEFINE_integer(
    "evolution_generations", 40, "Generations, the random first one included (paper: 40). Raising it on a finished "
    "search continues the evolution.")
CROSSOVER_PROB = flags.DEFINE_float(
    "crossover_prob", 0.9, "[U] Probability an offspring is a crossover of its two tournament winners (pymoo's default "
    "in the authors' NSGA-Net; the rest are mutated copies).")
MUTATION_PROB = flags.DEFINE_float(
    "mutation_prob", None, "[U] Per-choice re-draw probability of a mutation (default 1 / number of choices, pymoo's).")
FLOPS_PENALTY = flags.DEFINE_bool(
    "flops_penalty", False, "Instead of rejecting candidates outside the FLOPs window before evaluation, give them a "
    "negative fitness (minus their relative distance to the window) without running them (the authors' soft penalty).")
