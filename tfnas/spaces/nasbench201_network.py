"""The NAS-Bench-201 network a cell genotype builds (the benchmark's macro skeleton).

stem conv3x3 + BN -> N cells (C) -> ResNet block stride 2 (2C) -> N cells -> ResNet block
stride 2 (4C) -> N cells -> BN, ReLU, global pool, linear. The benchmark trained C=16, N=5.
"""
from __future__ import annotations

import tensorflow as tf

from tfnas.ops.cell_ops import NB201_OPS, ReLUConvBN, batch_norm
from tfnas.spaces import nasbench201 as nb201_space
from tfnas.spaces.nasbench201 import EDGES, NUM_NODES, NasBench201Genotype
from tfnas.spaces.networks import register_network

keras = tf.keras


class ResNetBasicBlock(keras.layers.Layer):
    """ReLU-conv3x3(stride)-BN, ReLU-conv3x3-BN, plus (avgpool 2x2 -> conv1x1) shortcut."""

    def __init__(self, filters: int, stride: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.stride = filters, stride
        self.conv_a = ReLUConvBN(filters, 3, stride, affine=True)
        self.conv_b = ReLUConvBN(filters, 3, 1, affine=True)
        self.shortcut_conv = keras.layers.Conv2D(filters, 1, use_bias=False)

    def call(self, x, training=None):
        residual = self.shortcut_conv(tf.nn.avg_pool2d(x, self.stride, self.stride, "VALID")) \
            if self.stride > 1 or x.shape[-1] != self.filters else x
        return residual + self.conv_b(self.conv_a(x, training=training), training=training)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}


class NasBench201Cell(keras.layers.Layer):
    """One discrete NAS-Bench-201 cell: node i = sum_j op_ij(node j); output node 3."""

    def __init__(self, genotype: NasBench201Genotype, channels: int, affine: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.genotype, self.channels = genotype, channels
        self.edge_ops = {}  # 'none' edges contribute nothing and get no layer
        for e, op in enumerate(genotype.ops):
            if op != "none":
                layer = NB201_OPS[op](channels, 1, affine)
                layer._name = f"edge{e}_{op}"
                self.edge_ops[f"edge{e}"] = layer

    def call(self, x, training=None):
        nodes = [x]
        for target in range(1, NUM_NODES):
            terms = []
            for e, (t, src) in enumerate(EDGES):
                if t == target and f"edge{e}" in self.edge_ops:
                    terms.append(_call(self.edge_ops[f"edge{e}"], nodes[src], training))
            nodes.append(tf.add_n(terms) if terms else tf.zeros_like(x))
        return nodes[-1]

    def get_config(self):
        return {**super().get_config(), "genotype": self.genotype.to_json(), "channels": self.channels}


def _call(layer, x, training):
    try:
        return layer(x, training=training)
    except TypeError:
        return layer(x)


def build_nasbench201_network(genotype: NasBench201Genotype, num_classes: int, input_shape: tuple[int, int, int],
                              init_channels: int = 16, layers: int = 5, name: str = "nasbench201") -> keras.Model:
    """Functional Keras model of the NAS-Bench-201 network (``layers`` cells per stage)."""
    inputs = keras.Input(shape=input_shape, name="image")
    c = init_channels
    x = keras.layers.Conv2D(c, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = batch_norm(True, name="stem_bn")(x)
    for stage in range(3):
        if stage > 0:
            c *= 2
            x = ResNetBasicBlock(c, 2, name=f"resblock{stage}")(x)
        for i in range(layers):
            x = NasBench201Cell(genotype, c, name=f"stage{stage}_cell{i}")(x)
    x = batch_norm(True, name="last_bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, name="classifier")(x)
    return keras.Model(inputs, outputs, name=name)


def nasbench201_builder(genotype, num_classes, input_shape, *, layers, init_channels, **unused):
    return build_nasbench201_network(genotype, num_classes, input_shape, init_channels, layers)


register_network(nb201_space.SPACE, nasbench201_builder, eval_defaults={"layers": 5, "init_channels": 16})
"""Evaluation recipe: the benchmark's network, N=5 cells per stage, C=16."""
