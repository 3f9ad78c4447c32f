"""The BATS search network: DARTS' supernet layout over binary mixed cells.

Stem (real-valued conv -> BN -> ReLU, as the library's BATS network) -> ``layers`` mixed cells
(reductions at layers//3 and 2*layers//3 doubling the channels) -> global pool -> real-valued
classifier. Each cell preprocesses its inputs with BN -> sign -> binary 1x1 conv -> PReLU
(real-valued FactorizedReduce after a reduction) and mixes the BATS ops on its 14 edges through
the batched MixedCell.

``naive=True`` is the baseline BATS argues against: DARTS' own supernet and ops
(tfnas.spaces.darts.OPS) with every convolution binarised, genotypes in the DARTS space.

How binary the network is while searching (``binarize``): "none" (real-valued ops in the BATS
space, e.g. a distillation teacher), "activations" (binary activations, real weights) or
"weights_and_activations". With ``progressive=True`` the binarised quantities are blended in by
the variables ``activation_binarization`` / ``weight_binarization`` (0 real .. 1 binary) that a
schedule (tfnas.methods.bats.BinarizationSchedule) sets each epoch.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import tensorflow as tf

from tfnas.errors import ConfigError
from tfnas.ops.binary_ops import (LCE_CHANNELS_PER_GROUP, Binarization, BinaryOpConfig, bats_preprocess,
                                  factorized_reduce, naive_preprocess)
from tfnas.spaces import bats as bats_space
from tfnas.spaces import darts as darts_space
from tfnas.spaces.bats_binary_network import EVAL_DEFAULTS, lce_groups
from tfnas.supernets.binary_batched_ops import (bats_conv_ops, bats_factorized_reduce, naive_conv_ops,
                                                naive_factorized_reduce)
from tfnas.supernets.differentiable import DartsLayoutMixin, DifferentiableSupernet

keras = tf.keras

from tfnas.configs.bats import BINARIZE, DEPLOY_INIT_CHANNELS  # noqa: E402,F401  (re-exported)

assert DEPLOY_INIT_CHANNELS == EVAL_DEFAULTS["init_channels"]


def search_groups(channels: int, requested: int | None, deploy_channels: int = DEPLOY_INIT_CHANNELS) -> int:
    """Groups of the search network's grouped binary convs: those of the network that will be deployed.

    The derived genotype is trained and exported at ``deploy_channels`` initial channels, where LCE's
    rule (a multiple of 32 input channels per group) fixes the groups (``lce_groups``: 64 -> 2, 384 -> 12).
    The search network uses that same number of groups, so the op whose weight the search learns is the
    op that is deployed: the same connectivity (every output reads 1/groups of the inputs) followed by
    the same channel shuffle. Only the channels per group are narrower, as every op is when a DARTS-style
    search runs at a smaller width than the network it derives. An explicit ``requested`` is used as is.
    """
    if requested is None:
        if deploy_channels % LCE_CHANNELS_PER_GROUP:
            raise ConfigError(f"--deploy_init_channels={deploy_channels} is not a multiple of {LCE_CHANNELS_PER_GROUP}, "
                              "so no grouping of the deployed network's binary convs runs as an LCE binary op; use a "
                              f"multiple of {LCE_CHANNELS_PER_GROUP} or pass --groups")
        requested = lce_groups(deploy_channels)
        if channels % requested:
            raise ConfigError(f"the deployed network (--deploy_init_channels={deploy_channels}) has {requested} groups per "
                              f"binary conv, which do not divide the search network's {channels} channels "
                              f"(--init_channels); use --init_channels a multiple of {requested} or pass --groups")
        return requested
    if requested < 1 or channels % requested:
        raise ConfigError(f"--groups={requested} does not divide the search network's {channels} channels "
                          f"(--init_channels); pick a divisor of {channels} or leave --groups unset")
    return requested


class _FixedWeights:
    """Holder for op weights that replace the architecture softmax (kept out of Keras' tracking)."""

    value: dict[str, tf.Tensor] | None = None


class BatsSupernet(DartsLayoutMixin, DifferentiableSupernet):
    """Binary differentiable supernet of the BATS space (or naive binary DARTS with ``naive=True``)."""

    def __init__(self, num_classes: int, init_channels: int = 16, layers: int = 8, stem_multiplier: int = 3,
                 groups: int | None = None, shuffle_groups: int = 4, binarize: str = "activations",
                 progressive: bool = False, naive: bool = False, binary_preprocess: bool = True,
                 binary_downsample: bool = False, arch_activation: str = "softmax", temperature: float = 1.0,
                 seed: int = 0, checkpoint: bool = True, deploy_channels: int = DEPLOY_INIT_CHANNELS, **kwargs):
        if binarize not in BINARIZE:
            raise ConfigError(f"--binarize must be one of {BINARIZE}, got {binarize!r}")
        if layers < 3:
            raise ConfigError(f"a DARTS-style network needs at least 3 cells (two are reductions), got layers={layers}")
        ops = darts_space.OPS if naive else bats_space.OPS
        super().__init__(ops, ("normal", "reduce"), darts_space.NUM_EDGES, arch_activation, temperature,
                         seed=seed, **kwargs)
        self.space = darts_space.SPACE if naive else bats_space.SPACE
        self.naive, self.binarize, self.progressive = naive, binarize, progressive
        self.num_classes, self.init_channels, self.num_layers = num_classes, init_channels, layers
        # naive binary DARTS has no grouped convolutions
        self.groups = 1 if naive else search_groups(init_channels, groups, deploy_channels)
        if init_channels % shuffle_groups:
            raise ConfigError(f"--shuffle_groups={shuffle_groups} must divide --init_channels={init_channels}")
        act0 = 0.0 if binarize == "none" else 1.0
        weight0 = 1.0 if binarize == "weights_and_activations" else 0.0
        self.activation_binarization = tf.Variable(act0, trainable=False, name="activation_binarization")
        self.weight_binarization = tf.Variable(weight0, trainable=False, name="weight_binarization")
        # Fixed fractions give plain graphs; variables only when a schedule will move them.
        binarization = Binarization(
            self.activation_binarization if progressive and act0 else act0,
            self.weight_binarization if progressive and weight0 else weight0)
        self.binarization = binarization
        op_config = BinaryOpConfig(groups=self.groups, shuffle_groups=shuffle_groups, affine=False,
                                   binarization=binarization, binary_preprocess=binary_preprocess,
                                   binary_downsample=binary_downsample)
        if naive:
            conv_ops, reduce_op, transform = naive_conv_ops(binarization), naive_factorized_reduce(binarization), "identity"
        else:
            conv_ops = bats_conv_ops(binarization, self.groups, shuffle_groups)
            reduce_op, transform = bats_factorized_reduce(binarization, binary_downsample), "batch_norm"

        def preprocess(i, c_curr, shape0, shape1, reduction_prev):
            if naive:
                pre0 = factorized_reduce(c_curr, shape0, op_config, f"cell{i}_pre0", binary=True) if reduction_prev \
                    else naive_preprocess(c_curr, shape0, op_config, f"cell{i}_pre0")
                return pre0, naive_preprocess(c_curr, shape1, op_config, f"cell{i}_pre1")
            pre0 = factorized_reduce(c_curr, shape0, op_config, f"cell{i}_pre0") if reduction_prev \
                else bats_preprocess(c_curr, shape0, op_config, f"cell{i}_pre0")
            return pre0, bats_preprocess(c_curr, shape1, op_config, f"cell{i}_pre1")

        self._build_darts_layout(num_classes, init_channels, layers, stem_multiplier, preprocess,
                                 checkpoint=checkpoint, conv_ops=conv_ops, factorized_reduce=reduce_op,
                                 input_transform=transform)
        self._fixed_weights = _FixedWeights()

    def layout_architecture(self):
        fixed = self._fixed_weights.value
        return super().layout_architecture() if fixed is None else fixed

    @contextlib.contextmanager
    def computing(self, op_weights: dict[str, np.ndarray]) -> Iterator["BatsSupernet"]:
        """Inside the block the cells read ``op_weights`` instead of softmax(alpha / T).

        With ``tfnas.spaces.bats.derived_op_weights(genotype)`` the supernet computes the derived
        network (one op per kept edge, the other edges off). Calls traced inside the block keep
        the fixed weights, so trace a fresh function there.
        """
        self._fixed_weights.value = {k: tf.constant(v, tf.float32) for k, v in op_weights.items()}
        try:
            yield self
        finally:
            self._fixed_weights.value = None

    def call(self, x, training=None):
        s = self.stem_bn(self.stem_conv(x), training=training)
        s = s if self.naive else tf.nn.relu(s)
        return self._darts_layout_forward(s, s, training)

    def genotype(self):
        w = self.op_weights_numpy()
        if self.naive:
            return darts_space.derive_genotype(w["normal"], w["reduce"])
        return bats_space.derive_genotype(w["normal"], w["reduce"])

    def architecture_state(self):
        state = super().architecture_state()
        state.update(space=self.space, binarize=self.binarize, groups=self.groups,
                     activation_binarization=float(self.activation_binarization.numpy()),
                     weight_binarization=float(self.weight_binarization.numpy()))
        return state
