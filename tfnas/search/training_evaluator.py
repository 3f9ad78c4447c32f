"""Evaluate a candidate by really training it: build its Keras child network, fit a few epochs,
report the accuracy on a held-out part of the training split.

This is the evaluator of PNAS' real search (and of random search / evolution outside tabular
mode). Candidates train one after another in one process, so each evaluation starts with
``keras.backend.clear_session()`` and ends with a garbage collection: without that the graphs
and weights of every earlier candidate stay alive and memory grows with the number trained.
The held-out part is a fixed seeded cut of the training split (PNAS: 45k train / 5k
validation on CIFAR-10, a 0.1 portion); the test split is never looked at during search.

Training is a plain ``compile``/``fit`` (SGD with momentum and a cosine learning-rate decay, the
usual child-network recipe) through ``tfnas.data``'s resumable ``train_stream``.

Weight decay (PNAS gives no search-time recipe [U]): by default coupled L2 on the kernels
(``weight_decay_type="l2"``): ``0.5 * wd * |w|^2`` of every conv, depthwise and dense kernel is
added to the loss, so its gradient ``wd * w`` goes through momentum like any other gradient. That
is how the authors' TF-slim NASNet/PNASNet code regularises (``l2_regularizer`` on conv and FC
weights only; its CIFAR scope uses 5e-4) and what PyTorch's ``SGD(weight_decay=)`` does to the
parameters it is given. ``"decoupled"`` is tf-keras 2.21's ``SGD(weight_decay=)``: before each
step every trainable variable (BN scales and offsets and biases too) is shrunk by
``lr_t * wd * w``, lr_t the current (cosine-decayed) learning rate, outside the momentum. Every candidate
starts from the same seed, so an architecture's score does not depend on when it was trained,
and a resumed search re-trains the interrupted candidate to the same number.
"""
from __future__ import annotations

import dataclasses
import gc
import time
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from tfnas.graph_optimization import graph_optimization
from tfnas.data import Augment, ImageData, eval_dataset, steps_for, train_stream
from tfnas.search.api import Architecture

keras = tf.keras

WEIGHT_DECAY_TYPES = ("l2", "decoupled")
"""l2: coupled L2 on kernels, in the loss (TF-slim / PyTorch style); decoupled: tf-keras' SGD weight_decay."""
ModelBuilder = Callable[[Architecture, int, tuple[int, int, int]], "keras.Model"]
"""(arch, num_classes, input_shape) -> an uncompiled Keras model returning logits."""


class _SingleDeviceSGD(keras.optimizers.SGD):
    """SGD that skips the cross-replica gradient sum when no tf.distribute strategy is active.

    With the default (single-device) strategy the sum is the identity, but tf-keras 2.21 runs it
    through ``ReplicaContext.all_reduce``, whose graph-mode custom gradient registers a global
    gradient function holding the whole train graph: every trained candidate then stays in
    memory (measured: ~40 MB per tiny PNAS candidate, growing without bound). Skipping the
    no-op sum lets ``clear_session`` free each candidate. Under a real strategy the sum runs.
    """

    def aggregate_gradients(self, grads_and_vars):
        if tf.distribute.has_strategy():
            return super().aggregate_gradients(grads_and_vars)
        return list(grads_and_vars)


@dataclasses.dataclass
class CandidateTraining:
    """How each candidate is trained (PNAS [U]: 20 epochs on CIFAR-10 with N=2, F=24)."""

    epochs: int = 20
    batch_size: int = 64
    steps_per_epoch: int | None = None
    learning_rate: float = 0.025
    momentum: float = 0.9
    weight_decay: float = 5e-4
    weight_decay_type: str = "l2"  # WEIGHT_DECAY_TYPES
    validation_portion: float = 0.1
    augment: bool = True
    seed: int = 0
    verbose: int = 0
    graph_optimization: str = "full"  # tfnas.graph_optimization.GRAPH_OPTIMIZATIONS


class TrainingEvaluator:
    """``evaluate(arch)`` -> {"val_accuracy", "val_loss", "train_accuracy", "train_loss", "params", "train_seconds"}.

    ``val_accuracy`` (in %, like the tabular benchmark) is the search objective.
    """

    metric = "val_accuracy"

    def __init__(self, data: ImageData, build_model: ModelBuilder, training: CandidateTraining = CandidateTraining()):
        if training.epochs < 1:
            raise ValueError(f"candidates need at least one training epoch, got {training.epochs}")
        if training.weight_decay_type not in WEIGHT_DECAY_TYPES:
            raise ValueError(f"weight_decay_type must be one of {WEIGHT_DECAY_TYPES}, got {training.weight_decay_type!r}")
        self.data = data
        self.build_model = build_model
        self.training = training
        self.train_indices, self.val_indices = data.search_split(1.0 - training.validation_portion, seed=training.seed)
        self.steps = steps_for(len(self.train_indices), training.batch_size, training.steps_per_epoch)
        # One input pipeline for all candidates: each fit() starts a fresh iterator at epoch 0, so
        # every candidate sees the same batches, and no per-candidate pipeline (holding its own
        # copy of the images as constants) is left behind.
        augment = Augment.standard(data) if training.augment else None
        self.train_data = train_stream(data, self.train_indices, training.batch_size, training.seed, augment,
                                       steps_per_epoch=training.steps_per_epoch)
        self.val_data = eval_dataset(data, "train", self.val_indices)
        self.num_trained = 0

    def evaluate(self, arch: Architecture) -> dict[str, float]:
        t = self.training
        keras.backend.clear_session()  # drop every earlier candidate's graph and weights
        keras.utils.set_random_seed(t.seed)
        start = time.time()
        model = self.build_model(arch, self.data.num_classes, self.data.image_shape)
        total_steps = t.epochs * self.steps
        schedule = keras.optimizers.schedules.CosineDecay(t.learning_rate, total_steps)
        decoupled = t.weight_decay_type == "decoupled"
        if t.weight_decay and not decoupled:
            add_kernel_l2(model, t.weight_decay)
        optimizer = _SingleDeviceSGD(schedule, momentum=t.momentum, nesterov=True,
                                     weight_decay=(t.weight_decay or None) if decoupled else None)
        model.compile(optimizer=optimizer,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        # The momentum slots now: created in the first traced train step, they make tf.function trace
        # the step a second time (measured: two traces of train_function per candidate).
        optimizer.build(model.trainable_variables)
        with graph_optimization(t.graph_optimization):
            history = model.fit(self.train_data, epochs=t.epochs, steps_per_epoch=self.steps, verbose=t.verbose)
            val_loss, val_acc = model.evaluate(self.val_data, verbose=0)
        metrics: dict[str, Any] = {
            "val_accuracy": 100.0 * float(val_acc),
            "val_loss": float(val_loss),
            "train_accuracy": 100.0 * float(history.history["accuracy"][-1]),
            "train_loss": float(history.history["loss"][-1]),
            "params": int(model.count_params()),
            "train_seconds": time.time() - start,
        }
        if not np.isfinite(metrics["val_loss"]):
            metrics["val_accuracy"] = 0.0  # a diverged candidate ranks last instead of poisoning the predictor
        del model, optimizer, history
        keras.backend.clear_session()
        gc.collect()
        self.num_trained += 1
        return metrics


def kernel_variables(model: "keras.Model") -> list[tf.Variable]:
    """The trainable conv, depthwise, pointwise and dense kernels of ``model`` (no BN, no biases)."""
    return [w for w in model.trainable_weights if w.name.split("/")[-1].split(":")[0].endswith("kernel")]


def add_kernel_l2(model: "keras.Model", weight_decay: float) -> None:
    """Coupled L2: ``0.5 * weight_decay * sum |k|^2`` over the kernels joins the model's losses
    (gradient ``weight_decay * k``, as TF-slim's l2_regularizer and PyTorch's SGD weight_decay)."""
    kernels = kernel_variables(model)
    model.add_loss(lambda: 0.5 * weight_decay * tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels]))


def pnas_training_evaluator(dataset: str, data_dir: str | None, cells_per_stage: int, filters: int,
                            training: dict[str, Any], cell_output: str | None = None,
                            image_size: int | None = None) -> TrainingEvaluator:
    """A ``TrainingEvaluator`` of PNAS child networks from plain settings: the factory of the discrete
    binaries' real mode, in their own process and in every parallel worker (``EvaluatorSpec``);
    ``image_size`` resizes the dataset's images (None: their own size)."""
    from tfnas.data import load_image_data
    from tfnas.spaces import pnas

    data = load_image_data(dataset, data_dir, image_size=image_size)

    def build(arch: Architecture, num_classes: int, input_shape):
        options = {} if cell_output is None else {"cell_output": cell_output}
        return pnas.build_network(pnas.to_genotype(arch), num_classes, input_shape, cells_per_stage=cells_per_stage,
                                  filters=filters, **options)

    return TrainingEvaluator(data, build, CandidateTraining(**training))
