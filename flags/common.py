"""Flags every tfnas binary takes: data, schedule, output, seed, distribution, resume."""
from __future__ import annotations

from absl import flags

from tfnas.errors import ConfigError
from tfnas.graph_optimization import GRAPH_OPTIMIZATIONS

DATASET = flags.DEFINE_string(
    "dataset", "mnist_embedded",
    "Dataset name: mnist_embedded (offline, ships with tfnas' requirements), digits_embedded, "
    "a tfds dataset prepared locally (cifar10, cifar100, mnist, fashion_mnist, imagenet2012, ...), or your own "
    "images as folder:/path/to/root with root/train/<label>/<image> (and optionally root/test/<label>/<image>).")
DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "tfds data directory holding prepared datasets (default: tfds' own, ~/tensorflow_datasets).")
OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, "Where results, checkpoints and TensorBoard events go. Re-running with the same "
    "directory resumes from the last completed epoch unless --fresh is given.")
FRESH = flags.DEFINE_bool(
    "fresh", False, "Start over: move what output_dir holds aside (to output_dir/previous-<time>) instead of resuming.")
SEED = flags.DEFINE_integer("seed", 0, "Random seed for data order, augmentation, initialisation and sampling.")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Global batch size.")
EPOCHS = flags.DEFINE_integer("epochs", 10, "Number of epochs.")
STEPS_PER_EPOCH = flags.DEFINE_integer(
    "steps_per_epoch", None, "Optional cap on steps per epoch (default: one pass over the training split).")
DISTRIBUTION = flags.DEFINE_enum(
    "distribution", "default", ["default", "mirrored", "multi_worker"],
    "tf.distribute strategy: default (one device), mirrored (every local GPU, one replica each; --batch_size is "
    "the global batch, split across them), multi_worker (MultiWorkerMirroredStrategy over the cluster in "
    "TF_CONFIG: run the same command on every worker; the chief writes --output_dir, which every worker must "
    "see). A supernet step under either is the one-device step on the same global batch (docs/SCALING.md).")
SYNC_BATCH_NORM = flags.DEFINE_bool(
    "sync_batch_norm", True,
    "With --distribution=mirrored|multi_worker and more than one replica: BatchNorm of differentiable supernets "
    "(DARTS, Single-DARTS, BATS) normalises with the global batch's statistics (Keras' synchronized=True; the "
    "search equals the one-device search). --nosync_batch_norm: each replica normalises with its own slice's "
    "statistics (Keras' default; fewer all-reduces, a different search). HURRICANE's single-path supernet always "
    "keeps per-replica statistics (its BN runs inside the sampled branch, where tf.distribute cannot all-reduce); "
    "ViTAS has no BatchNorm.")
VERBOSE = flags.DEFINE_integer("verbose", 2, "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch.")
IMAGE_SIZE = flags.DEFINE_integer(
    "image_size", None, "Resize images to image_size x image_size (default: the dataset's own size).")
MIXED_PRECISION = flags.DEFINE_enum(
    "mixed_precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
    "Keras precision policy of differentiable searches (DARTS, Single-DARTS, NAS-Bench-201, BATS) and child "
    "training: float32, mixed_bfloat16 (CPUs with AVX512-BF16/AMX, TPUs, recent GPUs) or mixed_float16 (GPUs; "
    "dynamic loss scaling). Architecture variables and their softmax, BN statistics, logits, losses and optimizer "
    "state stay float32; exports are float32 whatever was used in training.")

GRAPH_OPTIMIZATION = flags.DEFINE_enum(
    "graph_optimization", "full", list(GRAPH_OPTIMIZATIONS),
    "Grappler's graph rewrites for the differentiable searches (DARTS, Single-DARTS, NAS-Bench-201, BATS) and "
    "train: full (TensorFlow's default; on the full-size DARTS supernet the step is ~10% faster and its peak "
    "memory 1.7x smaller) or light (none: each traced function starts 10-15 s sooner on a 2-core CPU, which "
    "is most of a smoke test or a tiny network's run). HURRICANE and ViTAS always run light.")

def require_one_device(binary: str, why: str) -> None:
    """One ``error:`` line, before any work, for --distribution=mirrored|multi_worker on a one-device binary."""
    if DISTRIBUTION.value != "default":
        raise ConfigError(f"{binary} runs on one device ({why}): use --distribution=default "
                          f"(--distribution={DISTRIBUTION.value} is for the differentiable searches and train)")
