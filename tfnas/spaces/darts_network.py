"""The network a DARTS genotype builds (DARTS' NetworkCIFAR / NetworkImageNet), for training and export.

CIFAR stem: conv3x3 (3C) + BN. ImageNet stem: two stride-2 convs then a third (224 -> 28).
Cells: ``layers`` cells, reductions at layers//3 and 2*layers//3 doubling channels; each cell
preprocesses its two inputs (FactorizedReduce after a reduction, else ReLU-conv1x1-BN), applies
two ops per node and concatenates the chosen nodes. Drop-path (scheduled by the trainer) drops
whole op outputs except identities; the auxiliary head sits after the cell at 2*layers//3.
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from tfnas.errors import ConfigError
from tfnas.ops.cell_ops import DARTS_OPS, FactorizedReduce, Identity, ReLUConvBN, batch_norm
from tfnas.spaces import darts as darts_space
from tfnas.spaces.darts import NUM_INPUTS, DartsGenotype
from tfnas.spaces.networks import register_network

keras = tf.keras


class DropPath(keras.layers.Layer):
    """Zero a whole sample's op output with probability ``rate`` (rescaling the rest), training only.

    ``rate`` is a shared non-trainable variable the trainer raises linearly over epochs
    (DARTS: drop_path_prob * epoch / epochs); randomness comes from a tf.random.Generator that is
    checkpointed with the model so resumed runs draw the same masks.
    """

    def __init__(self, rate: tf.Variable, generator: tf.random.Generator, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.generator = rate, generator

    def call(self, x, training=None):
        if not training:
            return x
        keep = 1.0 - self.rate
        mask = tf.cast(self.generator.uniform([tf.shape(x)[0], 1, 1, 1]) < keep, x.dtype)
        return tf.where(self.rate > 0.0, x * mask / keep, x)


class DartsCell(keras.layers.Layer):
    """One discrete cell of a DARTS genotype."""

    def __init__(self, genotype: DartsGenotype, channels: int, reduction: bool, reduction_prev: bool,
                 drop_path: DropPath | None = None, affine: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.genotype, self.channels = genotype, channels
        self.reduction, self.reduction_prev = reduction, reduction_prev
        self.pre0 = FactorizedReduce(channels, affine) if reduction_prev else ReLUConvBN(channels, 1, 1, affine=affine)
        self.pre1 = ReLUConvBN(channels, 1, 1, affine=affine)
        self.pairs = genotype.cell(reduction)
        self.concat = genotype.concat(reduction)
        self.edge_ops = []
        for k, (op, index) in enumerate(self.pairs):
            stride = 2 if reduction and index < NUM_INPUTS else 1
            layer = DARTS_OPS[op](channels, stride, affine)
            layer._name = f"node{k // 2}_{op}_from{index}"
            self.edge_ops.append(layer)
        self.drop_path = drop_path

    def call(self, inputs, training=None):
        s0, s1 = inputs
        states = [self.pre0(s0, training=training), self.pre1(s1, training=training)]
        for node in range(len(self.pairs) // 2):
            total = None
            for k in (2 * node, 2 * node + 1):
                layer = self.edge_ops[k]
                h = layer(states[self.pairs[k][1]], training=training)
                if self.drop_path is not None and not isinstance(layer, Identity):
                    h = self.drop_path(h, training=training)
                total = h if total is None else total + h
            states.append(total)
        return tf.concat([states[i] for i in self.concat], axis=-1)


def auxiliary_head(x: tf.Tensor, num_classes: int, name: str = "aux") -> tf.Tensor:
    """DARTS' auxiliary classifier: ReLU, 5x5 avg-pool stride 3, conv1x1 128, conv2x2 768, linear.

    For feature maps under 8x8 (small inputs such as 28x28 MNIST) the pooling would leave
    nothing for the 2x2 conv, so the head pools globally and uses a 1x1 conv instead.
    """
    h = keras.layers.ReLU(name=f"{name}_relu0")(x)
    small = x.shape[1] is not None and x.shape[1] < 8
    if small:
        h = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(h)
    else:
        h = keras.layers.AveragePooling2D(5, 3, padding="valid", name=f"{name}_pool")(h)
    h = keras.layers.Conv2D(128, 1, use_bias=False, name=f"{name}_conv1")(h)
    h = keras.layers.ReLU()(batch_norm(True, name=f"{name}_bn1")(h))
    h = keras.layers.Conv2D(768, 1 if small else 2, use_bias=False, name=f"{name}_conv2")(h)
    h = keras.layers.ReLU()(batch_norm(True, name=f"{name}_bn2")(h))
    h = keras.layers.Flatten()(h)
    return keras.layers.Dense(num_classes, name=f"{name}_classifier")(h)


def build_darts_network(genotype: DartsGenotype | Sequence[DartsGenotype], num_classes: int,
                        input_shape: tuple[int, int, int], init_channels: int = 36, layers: int = 20,
                        auxiliary: bool = False, stem: str = "cifar", drop_path_rate: tf.Variable | None = None,
                        generator: tf.random.Generator | None = None, name: str = "darts",
                        affine: bool = True) -> keras.Model:
    """Functional model; outputs logits, or [logits, aux_logits] when ``auxiliary``.

    ``genotype`` is one DARTS genotype for every cell, or one per cell (MANAS: ``layers`` of them,
    cell i built from the normal or reduce cell of the i-th). ``affine=False`` builds the cells with
    DARTS' search-time ops (affine-free BN, BN after pooling): the network a fixed path of a search
    supernet computes, which its weights can be copied into.
    """
    if stem not in ("cifar", "imagenet"):
        raise ValueError(f"stem must be 'cifar' or 'imagenet', got {stem!r}")
    if layers < 3:
        raise ConfigError(f"a DARTS network needs at least 3 cells (two are reductions), got --layers={layers}")
    per_cell = list(genotype) if isinstance(genotype, (list, tuple)) else [genotype] * layers
    if len(per_cell) != layers:
        raise ConfigError(f"{len(per_cell)} cell genotypes for a {layers}-cell network")
    drop = None
    if drop_path_rate is not None:
        drop = DropPath(drop_path_rate, generator or tf.random.Generator.from_seed(0), name="drop_path")
    inputs = keras.Input(shape=input_shape, name="image")
    c = init_channels
    if stem == "cifar":
        x = keras.layers.Conv2D(3 * c, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
        s0 = s1 = batch_norm(True, name="stem_bn")(x)
        reduction_prev = False
    else:
        x = keras.layers.Conv2D(c // 2, 3, 2, padding="same", use_bias=False, name="stem0_conv1")(inputs)
        x = keras.layers.ReLU()(batch_norm(True, name="stem0_bn1")(x))
        x = keras.layers.Conv2D(c, 3, 2, padding="same", use_bias=False, name="stem0_conv2")(x)
        s0 = batch_norm(True, name="stem0_bn2")(x)
        x = keras.layers.ReLU()(s0)
        x = keras.layers.Conv2D(c, 3, 2, padding="same", use_bias=False, name="stem1_conv")(x)
        s1 = batch_norm(True, name="stem1_bn")(x)
        reduction_prev = True
    aux_logits = None
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            c *= 2
        cell = DartsCell(per_cell[i], c, reduction, reduction_prev, drop, affine, name=f"cell{i}")
        s0, s1 = s1, cell([s0, s1])
        reduction_prev = reduction
        if auxiliary and i == 2 * layers // 3:
            aux_logits = auxiliary_head(s1, num_classes)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(s1)
    logits = keras.layers.Dense(num_classes, name="classifier")(x)
    outputs = [logits, aux_logits] if auxiliary else logits
    return keras.Model(inputs, outputs, name=name)


def darts_builder(genotype, num_classes, input_shape, *, layers, init_channels, auxiliary=False, drop_path_rate=None,
                  generator=None, stem="auto", **unused):
    """The registered builder: ``stem="auto"`` picks the ImageNet stem from 128 px up, else CIFAR's."""
    if stem == "auto":
        stem = "imagenet" if input_shape[0] >= 128 else "cifar"
    return build_darts_network(genotype, num_classes, input_shape, init_channels, layers, auxiliary, stem,
                               drop_path_rate, generator)


register_network(darts_space.SPACE, darts_builder, eval_defaults={"layers": 20, "init_channels": 36},
                 auxiliary=True, drop_path=True)
"""Evaluation recipe: DARTS' CIFAR-10 network, 20 cells and 36 channels."""
