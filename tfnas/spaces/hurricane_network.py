"""The HURRICANE child network: stem, one mobile op per searchable layer, head (registered for training).

The same ``Stem`` / ``Head`` layers and ``mobile_ops.build_op`` ops make every path of the
single-path supernet, so a supernet path and the child of the matching genotype compute the same
function once the weights are copied (``tfnas.supernets.single_path``).
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from tfnas.errors import UserInputError
from tfnas.ops import mobile_ops
from tfnas.spaces import hurricane
from tfnas.spaces.hurricane import HurricaneGenotype, layer_name
from tfnas.spaces.networks import register_network

keras = tf.keras


@keras.utils.register_keras_serializable(package="tfnas")
class Stem(keras.layers.Layer):
    """conv3x3 stride 2 -> BN -> ReLU."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.conv = keras.layers.Conv2D(channels, 3, 2, padding="same", use_bias=False, name="conv")
        self.bn = mobile_ops.batch_norm("bn")

    def call(self, x, training=None):
        return tf.nn.relu(self.bn(self.conv(x), training=training))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.utils.register_keras_serializable(package="tfnas")
class Head(keras.layers.Layer):
    """conv1x1 -> BN -> ReLU -> global average pool -> dropout -> fully connected logits."""

    def __init__(self, channels: int, num_classes: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.num_classes, self.dropout_rate = channels, num_classes, dropout
        self.conv = keras.layers.Conv2D(channels, 1, use_bias=False, name="conv")
        self.bn = mobile_ops.batch_norm("bn")
        self.dropout = keras.layers.Dropout(dropout)
        self.fc = keras.layers.Dense(num_classes, name="fc")

    def call(self, x, training=None):
        x = tf.nn.relu(self.bn(self.conv(x), training=training))
        x = tf.reduce_mean(x, axis=[1, 2])
        return self.fc(self.dropout(x, training=training))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "num_classes": self.num_classes,
                "dropout": self.dropout_rate}


def build_child(genotype: HurricaneGenotype, num_classes: int, input_channels: int = 3, dropout: float = 0.0,
                layers: Sequence[int] | None = None) -> keras.Model:
    """The child network of ``genotype`` as a functional Keras model (single logits output).

    ``layers`` restricts the searchable layers that are built (all by default); it is only
    meant for measuring pieces of the network (latency tables), never for training.
    """
    config = genotype.config(input_channels, num_classes)
    inp = keras.Input((config.resolution, config.resolution, input_channels), name="image")
    x = Stem(config.stem_channels, name="stem")(inp)
    for pos, op in zip(config.positions(), genotype.ops):
        if layers is None or pos.index in layers:
            x = mobile_ops.build_op(op, pos.out_channels, pos.stride, name=layer_name(pos.index))(x)
    out = Head(config.head_channels, num_classes, dropout, name="head")(x)
    return keras.Model(inp, out, name="hurricane_child")


def stem_model(config: hurricane.HurricaneConfig) -> keras.Model:
    """The stem alone at batch 1 (a fixed part of every network, timed once per latency table)."""
    inp = keras.Input((config.resolution, config.resolution, config.input_channels), batch_size=1)
    return keras.Model(inp, Stem(config.stem_channels)(inp))


def head_model(config: hurricane.HurricaneConfig) -> keras.Model:
    """The head alone at batch 1, on the last searchable layer's output."""
    inp = keras.Input(config.positions()[-1].out_shape, batch_size=1)
    return keras.Model(inp, Head(config.head_channels, config.num_classes)(inp))


def hurricane_builder(genotype: HurricaneGenotype, num_classes: int, input_shape, *, layers=None,
                      init_channels=None, dropout: float = 0.0, **unused) -> keras.Model:
    """The registered builder: the genotype fixes every layer and the resolution it was searched for."""
    if tuple(input_shape[:2]) != (genotype.resolution, genotype.resolution):
        raise UserInputError(f"this HURRICANE genotype was searched at {genotype.resolution}x{genotype.resolution} "
                             f"and its latency was measured there; got images of {input_shape[0]}x{input_shape[1]}: "
                             f"pass --image_size={genotype.resolution}")
    return build_child(genotype, num_classes, int(input_shape[-1]), dropout)


register_network(hurricane.SPACE, hurricane_builder, sizes=False, input_size=lambda genotype: genotype.resolution)
"""No evaluation sizes: a layer-wise genotype fixes depth and widths (its width multiplier included)."""
