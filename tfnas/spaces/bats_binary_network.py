"""Binary child networks: the BATS network of a BATS genotype, and naive binary DARTS networks.

Layout (the library's BATSNetworkCIFAR, itself DARTS' NetworkCIFAR): real-valued stem
(conv 3x3 -> BN -> ReLU) -> ``layers`` cells (reductions at layers//3 and 2*layers//3 double the
channels) -> global pool -> real-valued classifier; an optional real-valued auxiliary head (BN ->
conv -> PReLU, as the library's) after cell 2*layers//3; drop-path on every non-identity op.
Each cell preprocesses its inputs (BN -> sign -> binary 1x1 -> PReLU, or the real-valued
FactorizedReduce after a reduction), runs two ops per node and concatenates the nodes.

Everything is built functionally from Larq layers (real convolutions are Larq layers without
quantizers), so ``lq.models.summary`` reports binary and real MACs and the LCE converter sees
plain QuantConv2D layers.

Deployability: LCE turns a grouped binary convolution into its binary op only when each group
has a multiple of 32 input channels. ``lce_groups`` enforces it (``lce_compatible=True``, the
default): with ``groups=None`` it picks the most groups up to 12 that keep a multiple of 32 per
group (64 channels -> 2 groups, 384 -> 12), and an explicit ``groups`` that breaks the rule is
an error naming a fix. Wider stages (2C, 4C) then satisfy it too.
"""
from __future__ import annotations

from typing import Callable

import larq as lq
import tensorflow as tf

from tfnas.errors import ConfigError, UserInputError
from tfnas.ops import binary_ops
from tfnas.ops.binary_ops import LCE_CHANNELS_PER_GROUP, Binarization, BinaryOpConfig, prelu, real_conv
from tfnas.ops.cell_ops import batch_norm
from tfnas.spaces import bats as bats_space
from tfnas.spaces import darts as darts_space
from tfnas.spaces.darts_network import DropPath
from tfnas.spaces.networks import register_network

keras = tf.keras

MAX_GROUPS = 12
EVAL_DEFAULTS = {"layers": 20, "init_channels": 64}
"""BATS evaluation network size [U: the paper's CIFAR widths are not stated]: DARTS' 20 cells; 64
initial channels, the smallest width whose grouped binary convs (2 groups of 32) deploy in LCE."""
BINARY_DARTS_EVAL_DEFAULTS = {"layers": 20, "init_channels": 36}
"""Naive binary DARTS at DARTS' CIFAR-10 evaluation size."""


class BinaryWidthError(UserInputError):
    """Widths and groups that would leave grouped binary convolutions float after LCE conversion."""


def lce_groups(channels: int, requested: int | None = None, lce_compatible: bool = True) -> int:
    """Groups of the grouped binary convolutions at the first stage's ``channels``.

    See the module docstring for the rule; ``lce_compatible=False`` only asks that groups divide
    the channels (the grouped convs then stay float convolutions in an LCE model).
    """
    if requested is not None:
        if requested < 1 or channels % requested:
            raise BinaryWidthError(f"--groups={requested} does not divide --init_channels={channels}; "
                                   f"choose a divisor of {channels}")
        if lce_compatible and (channels // requested) % LCE_CHANNELS_PER_GROUP:
            valid = [g for g in range(1, MAX_GROUPS + 1)
                     if channels % g == 0 and (channels // g) % LCE_CHANNELS_PER_GROUP == 0]
            hint = (f"use --groups in {valid}" if valid else
                    f"use --init_channels a multiple of {LCE_CHANNELS_PER_GROUP * requested}")
            raise BinaryWidthError(
                f"--groups={requested} at --init_channels={channels} gives {channels // requested} input channels "
                f"per group; LCE converts a grouped binary conv to a binary op only with a multiple of "
                f"{LCE_CHANNELS_PER_GROUP} per group: {hint}, or pass --lce_compatible=false to keep them float")
        return requested
    for g in range(MAX_GROUPS, 0, -1):
        if channels % g == 0 and (not lce_compatible or (channels // g) % LCE_CHANNELS_PER_GROUP == 0):
            return g
    raise BinaryWidthError(
        f"--init_channels={channels} is not a multiple of {LCE_CHANNELS_PER_GROUP}: no grouping of its binary "
        f"convolutions deploys as an LCE binary op. Use --init_channels a multiple of {LCE_CHANNELS_PER_GROUP} "
        f"(e.g. {max(LCE_CHANNELS_PER_GROUP, (channels // LCE_CHANNELS_PER_GROUP + 1) * LCE_CHANNELS_PER_GROUP)}), "
        "or --lce_compatible=false")


def _stem(inputs: tf.Tensor, c: int, stem: str, relu: bool):
    """CIFAR: conv3x3 (3C) -> BN (-> ReLU: the BATS library's stem; DARTS' has none, and the naive
    network needs none: its cells start with sign, and sign(ReLU(x)) is +1 everywhere).
    ImageNet: DARTS' three stride-2 real convs (8x down)."""
    if stem == "cifar":
        x = batch_norm(True, name="stem_bn")(real_conv(3 * c, 3, "stem_conv")(inputs))
        if relu:
            x = keras.layers.ReLU(name="stem_relu")(x)
        return x, x, False
    x = real_conv(c // 2, 3, "stem0_conv1", strides=2)(inputs)
    x = keras.layers.ReLU(name="stem0_relu")(batch_norm(True, name="stem0_bn1")(x))
    x = real_conv(c, 3, "stem0_conv2", strides=2)(x)
    s0 = batch_norm(True, name="stem0_bn2")(x)
    x = real_conv(c, 3, "stem1_conv", strides=2)(keras.layers.ReLU(name="stem1_relu")(s0))
    return s0, batch_norm(True, name="stem1_bn")(x), True


def auxiliary_head(x: tf.Tensor, num_classes: int, name: str = "aux") -> tf.Tensor:
    """The library's BATS auxiliary head, real-valued: pool -> BN -> 1x1 128 -> PReLU -> BN -> 2x2 768 -> PReLU -> FC.

    Feature maps under 8x8 are pooled globally and the 2x2 conv becomes 1x1 (as tfnas' DARTS head).
    """
    small = x.shape[1] is not None and x.shape[1] < 8
    if small:
        h = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    else:
        h = keras.layers.AveragePooling2D(5, 3, padding="valid", name=f"{name}_pool")(x)
    h = real_conv(128, 1, f"{name}_conv1")(batch_norm(True, name=f"{name}_bn1")(h))
    h = prelu(f"{name}_prelu1")(h)
    h = real_conv(768, 1 if small else 2, f"{name}_conv2", padding="valid")(batch_norm(True, name=f"{name}_bn2")(h))
    h = keras.layers.Flatten(name=f"{name}_flatten")(prelu(f"{name}_prelu2")(h))
    return keras.layers.Dense(num_classes, name=f"{name}_classifier")(h)


def _build(genotype: darts_space.DartsGenotype, num_classes: int, input_shape, init_channels: int, layers: int,
           auxiliary: bool, stem: str, drop_path_rate, generator, config: BinaryOpConfig,
           op_factory: Callable, preprocess: Callable, downsample_binary: bool | None, name: str) -> keras.Model:
    if layers < 3:
        raise ConfigError(f"a DARTS-style network needs at least 3 cells (two are reductions), got --layers={layers}")
    if stem == "auto":
        stem = "imagenet" if input_shape[0] >= 128 else "cifar"
    # Always present (rate 0 when not scheduled) so that the trained network and the one rebuilt for
    # evaluation/export have the same layers and their weights line up; inactive at inference.
    rate = drop_path_rate if drop_path_rate is not None else tf.Variable(0.0, trainable=False, name="drop_path_rate")
    drop = DropPath(rate, generator or tf.random.Generator.from_seed(0), name="drop_path")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    c = init_channels
    s0, s1, reduction_prev = _stem(inputs, c, stem, relu=op_factory is binary_ops.bats_op)
    aux_logits = None
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            c *= 2
        if reduction_prev:
            p0 = binary_ops.factorized_reduce(c, s0.shape[1:], config, f"cell{i}_pre0", binary=downsample_binary)
        else:
            p0 = preprocess(c, s0.shape[1:], config, f"cell{i}_pre0")
        states = [p0(s0), preprocess(c, s1.shape[1:], config, f"cell{i}_pre1")(s1)]
        pairs = genotype.cell(reduction)
        for node in range(len(pairs) // 2):
            total = []
            for k in (2 * node, 2 * node + 1):
                op, index = pairs[k]
                stride = 2 if reduction and index < darts_space.NUM_INPUTS else 1
                h = op_factory(op, c, stride, states[index].shape[1:], config, f"cell{i}_node{node}_{op}_from{index}")(
                    states[index])
                if not (op == "skip_connect" and stride == 1):
                    h = drop(h)
                total.append(h)
            states.append(keras.layers.Add(name=f"cell{i}_node{node}")(total))
        concat = genotype.concat(reduction)
        s0, s1 = s1, keras.layers.Concatenate(name=f"cell{i}_out")([states[j] for j in concat])
        reduction_prev = reduction
        if auxiliary and i == 2 * layers // 3:
            aux_logits = auxiliary_head(s1, num_classes)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(s1)
    logits = lq.layers.QuantDense(num_classes, name="classifier")(x)
    return keras.Model(inputs, [logits, aux_logits] if auxiliary else logits, name=name)


def build_bats_network(genotype: bats_space.BatsGenotype, num_classes: int, input_shape, init_channels: int = 64,
                       layers: int = 20, auxiliary: bool = False, stem: str = "auto", drop_path_rate=None,
                       generator=None, groups: int | None = None, shuffle_groups: int = 4,
                       binarization: Binarization | None = None, binary_preprocess: bool = True,
                       binary_downsample: bool = False, lce_compatible: bool = True,
                       fast_grouped_conv: bool = False) -> keras.Model:
    """The binary network of a BATS genotype; outputs logits, or [logits, aux_logits] with ``auxiliary``.

    ``binarization`` (training schedules) and ``fast_grouped_conv`` (fast grouped convs for training,
    binary_ops.GroupedQuantConv2D) are for training; a network for evaluation or export leaves them unset.
    """
    if not isinstance(genotype, bats_space.BatsGenotype):
        raise UserInputError(f"build_bats_network needs a BATS genotype (space 'bats'), got space {genotype.SPACE!r}")
    g = lce_groups(init_channels, groups, lce_compatible)
    if init_channels % shuffle_groups:
        raise BinaryWidthError(f"--shuffle_groups={shuffle_groups} must divide --init_channels={init_channels}")
    config = BinaryOpConfig(groups=g, shuffle_groups=shuffle_groups, affine=True, binarization=binarization,
                            binary_preprocess=binary_preprocess, binary_downsample=binary_downsample,
                            fast_grouped_conv=fast_grouped_conv)
    return _build(genotype, num_classes, input_shape, init_channels, layers, auxiliary, stem, drop_path_rate,
                  generator, config, binary_ops.bats_op, binary_ops.bats_preprocess, None, "bats")


def build_binary_darts_network(genotype: darts_space.DartsGenotype, num_classes: int, input_shape,
                               init_channels: int = 36, layers: int = 20, auxiliary: bool = False,
                               stem: str = "auto", drop_path_rate=None, generator=None,
                               binarization: Binarization | None = None) -> keras.Model:
    """Naive binary DARTS: the DARTS network of a DARTS genotype with every convolution binarised
    (stem and classifier real). Its binary depthwise convolutions have no LCE binary kernel."""
    config = BinaryOpConfig(affine=True, binarization=binarization)
    return _build(genotype, num_classes, input_shape, init_channels, layers, auxiliary, stem, drop_path_rate,
                  generator, config, binary_ops.naive_op, binary_ops.naive_preprocess, True, "binary_darts")


def bats_builder(genotype, num_classes, input_shape, *, layers, init_channels, auxiliary=False,
                  drop_path_rate=None, generator=None, stem="auto", **options):
    return build_bats_network(genotype, num_classes, input_shape, init_channels, layers, auxiliary, stem,
                              drop_path_rate, generator, **options)


def binary_darts_builder(genotype, num_classes, input_shape, *, layers, init_channels, auxiliary=False,
                          drop_path_rate=None, generator=None, stem="auto", binarization=None, **unused):
    # grouped convs only exist in the BATS network, so fast_grouped_conv is ignored here
    return build_binary_darts_network(genotype, num_classes, input_shape, init_channels, layers, auxiliary, stem,
                                      drop_path_rate, generator, binarization)


register_network(bats_space.SPACE, bats_builder, binary=True, eval_defaults=EVAL_DEFAULTS, auxiliary=True,
                 drop_path=True)
register_network(darts_space.SPACE, binary_darts_builder, binary=True, eval_defaults=BINARY_DARTS_EVAL_DEFAULTS,
                 auxiliary=True, drop_path=True)
