"""Architecture warm-up: the first epochs of a differentiable search train the network weights only.

Why: at the start of a search every op's weights are untrained. Parameter-free ops (pools, skip)
are useful from step 0, convolutions -- binary ones most of all -- only after training, so the
first architecture gradients favour the parameter-free ops, and a sharp softmax (a low BATS
temperature) locks that early preference in before the convolutions can catch up (measured:
docs/BENCHMARKS.md, BATS, "The temperature claim"). DARTS-family searches warm the weights up
first (PC-DARTS: 15 of 50 epochs; P-DARTS: 10 epochs per stage); BATS says nothing ([U]).

How: the architecture optimizer's learning rate is 0 in epochs ``< warmup_epochs`` and the
search's rate after. Set at every epoch start from the epoch number, so a resumed search is in
the right phase. Adam's moment estimates keep following the architecture gradients during the
warm-up, so the first real step is an ordinary Adam step (not a large bias-corrected first step);
alpha itself, weight decay included, does not move.
"""
from __future__ import annotations

import tensorflow as tf

keras = tf.keras


def architecture_learning_rate_at(epoch: int, warmup_epochs: int, rate: float) -> float:
    """The architecture learning rate of epoch ``epoch`` (0-based): 0 during the warm-up, ``rate`` after."""
    return 0.0 if epoch < warmup_epochs else float(rate)


class ArchitectureWarmup(keras.callbacks.Callback):
    """Holds the architecture learning rate at 0 for the first ``warmup_epochs`` epochs, then ``rate``."""

    def __init__(self, arch_optimizer: keras.optimizers.Optimizer, warmup_epochs: int, rate: float):
        super().__init__()
        self.arch_optimizer, self.warmup_epochs, self.rate = arch_optimizer, int(warmup_epochs), float(rate)

    def on_epoch_begin(self, epoch, logs=None):
        self.arch_optimizer.learning_rate = architecture_learning_rate_at(epoch, self.warmup_epochs, self.rate)
