"""Candidate ops computed for several edges at once (the supernet's fast path).

A DARTS-style supernet evaluates every op on every edge: 14 edges x 8 ops x 8 cells = 896
small ops, whose graph is slow to build and slow to run one by one. The edges entering one node
read different states, but their ops have the same type and shape. So each op type is run once
per node over the concatenated inputs of all G incoming edges, with grouped weights:

- a depthwise kernel over G*C channels is exactly G per-edge depthwise kernels;
- a grouped convolution (G groups) is exactly G per-edge convolutions C -> C;
- BN without affine parameters normalises each channel alone, so one BN over G*C channels is
  exactly G per-edge BNs.

Weights live in per-cell "banks", one variable per op kernel for all edges of the cell (edge
e owns channels [e*C, (e+1)*C)); a node group reads its contiguous slice. Few large variables
instead of hundreds of small ones keep the optimizer, clipping and checkpoint graphs small.

Inputs are already ReLU-ed: every convolutional op starts with ReLU of its input, and the
ReLU of a state is shared by all ops and edges that read it.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Iterator

import numpy as np
import tensorflow as tf

from tfnas.ops.cell_ops import BN_EPSILON, BN_MOMENTUM
from tfnas.ops.conv_utils import depthwise_conv
from tfnas.ops.grouped_conv import grouped_conv2d
from tfnas.supernets import replicas

keras = tf.keras

_CONSTANTS: dict = {}

STATISTICS = dict(synchronization=tf.VariableSynchronization.ON_READ, aggregation=tf.VariableAggregation.MEAN,
                  dtype=tf.float32, experimental_autocast=False)
"""BN statistics: float32 under every mixed-precision policy (never cast to the compute dtype, as
Keras BatchNormalization keeps them), per replica and averaged when read."""


def _unit(c: int, value: float) -> tf.Tensor:
    """float32 ones/zeros of length c, created once per graph (BN scale/offset of affine-free BN)."""
    key = (id(tf.compat.v1.get_default_graph()), c, value)
    if key not in _CONSTANTS or tf.executing_eagerly():
        _CONSTANTS[key] = tf.constant(np.full([c], value), dtype=tf.float32)
    return _CONSTANTS[key]


def affine_free_batch_norm(x: tf.Tensor, moving_mean: tf.Tensor, moving_variance: tf.Tensor, training: bool,
                           momentum: float = BN_MOMENTUM, epsilon: float = BN_EPSILON,
                           scale: tf.Tensor | None = None, synchronized: bool = False
                           ) -> tuple[tf.Tensor, tf.Tensor | None, tf.Tensor | None]:
    """Affine-free BN as one fused op; returns (y, new_mean, new_variance) (None when not training).

    Same kernel and moving-average rule as keras BatchNormalization(center=False, scale=False)
    (PyTorch momentum 0.1, unbiased variance in the running estimate). ``scale`` (float32, one
    value per channel) multiplies the normalised output: ``w * BN(x)`` computed by the BN kernel
    itself, whose backward pass already yields the gradient of ``w`` (MixedCell passes each
    edge's architecture weight here instead of multiplying the op's output afterwards). The
    statistics (float32 also when ``x`` is bfloat16/float16) do not depend on it.

    ``synchronized`` (``replicas.synchronize_batch_norm``): inside a multi-replica train step,
    normalise with the moments of the global batch (all-reduced sums; the fused kernel cannot
    all-reduce, so this path uses plain ops) and update the running estimates from them with the
    same rule (unbiased variance over the global count): the step the one-device kernel takes on
    the whole batch.
    """
    if training and synchronized and replicas.in_multi_replica_step():
        return _synchronized_batch_norm(x, moving_mean, moving_variance, momentum, epsilon, scale)
    c = x.shape[-1]
    scale = _unit(c, 1.0) if scale is None else scale
    zeros = _unit(c, 0.0)
    moving_mean, moving_variance = tf.cast(moving_mean, tf.float32), tf.cast(moving_variance, tf.float32)
    if not training:
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, scale, zeros, moving_mean, moving_variance,
                                                   epsilon=epsilon, is_training=False)
        return y, None, None
    return tf.compat.v1.nn.fused_batch_norm(x, scale, zeros, moving_mean, moving_variance, epsilon=epsilon,
                                            is_training=True, exponential_avg_factor=1.0 - momentum)


def _synchronized_batch_norm(x, moving_mean, moving_variance, momentum, epsilon, scale):
    mean, variance, count = replicas.global_moments(x, [0, 1, 2])
    factor = tf.math.rsqrt(variance + epsilon)
    if scale is not None:
        factor = factor * scale
    y = tf.cast((tf.cast(x, tf.float32) - mean) * factor, x.dtype)
    unbiased = variance * count / tf.maximum(count - 1.0, 1.0)
    keep = tf.constant(momentum, tf.float32)
    new_mean = keep * tf.cast(moving_mean, tf.float32) + (1.0 - keep) * mean
    new_variance = keep * tf.cast(moving_variance, tf.float32) + (1.0 - keep) * unbiased
    return y, new_mean, new_variance


class AffineFreeBatchNorm(keras.layers.Layer):
    """A standalone affine-free BN layer (pool BNs) built on ``affine_free_batch_norm``.

    ``update_stats`` is switched off while a checkpointed cell is recomputed for its gradient,
    so moving statistics are updated once per step, not twice.
    """

    def __init__(self, momentum: float = BN_MOMENTUM, epsilon: float = BN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.epsilon = momentum, epsilon
        self.update_stats = True
        self.synchronized = False  # global-batch statistics under a multi-replica strategy

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.moving_mean = self.add_weight("moving_mean", shape=(c,), initializer="zeros", trainable=False,
                                           **STATISTICS)
        self.moving_variance = self.add_weight("moving_variance", shape=(c,), initializer="ones", trainable=False,
                                               **STATISTICS)

    def call(self, x, training=None):
        y, mean, var = affine_free_batch_norm(x, self.moving_mean, self.moving_variance, bool(training),
                                              self.momentum, self.epsilon, synchronized=self.synchronized)
        if training and self.update_stats:
            self.moving_mean.assign(mean)
            self.moving_variance.assign(var)
        return y


class GlorotPerEdge(keras.initializers.Initializer):
    """Glorot-uniform scaled for one edge's kernel, not for the whole bank."""

    def __init__(self, fan_in: int, fan_out: int):
        self.fan_in, self.fan_out = fan_in, fan_out

    def __call__(self, shape, dtype=None, **kwargs):
        limit = (6.0 / (self.fan_in + self.fan_out)) ** 0.5
        return tf.random.uniform(shape, -limit, limit, dtype=dtype or tf.float32)

    def get_config(self):
        return {"fan_in": self.fan_in, "fan_out": self.fan_out}


@dataclasses.dataclass(frozen=True)
class KernelSpec:
    """One kernel of a batched op: its bank shape for E edges and how to slice an edge range.

    Kinds: "depthwise" [k,k,E*C,1] | "pointwise" [k,k,C*in_fraction,E*out] (a grouped convolution
    when in_fraction < 1: each edge's C inputs split into 1/in_fraction groups) | "bn" (moving
    statistics [E*C]) | "vector" (a trainable per-channel parameter [E*C], e.g. PReLU slopes,
    initialised to ``init``). ``clip`` bounds the variable to [-clip, clip] after every update
    (the weight clipping binary convolutions use for their latent real weights).
    """

    name: str
    kind: str
    kernel_size: int = 1
    out_fraction: float = 1.0  # per-edge output channels as a fraction of C (FactorizedReduce: 0.5)
    in_fraction: float = 1.0  # per-group input channels as a fraction of C (grouped convolutions)
    init: float = 0.0  # initial value of a "vector" kernel
    clip: float | None = None


@dataclasses.dataclass(frozen=True)
class BatchedOp:
    """A parametric candidate op computed over a group of edges from kernel slices."""

    kernels: tuple[KernelSpec, ...]
    compute: Callable[..., tf.Tensor]
    """compute(x, k, stride, groups, bn, training) -> y; ``k`` maps kernel name -> sliced tensor and
    ``bn(name, tensor)`` normalises with that kernel's statistics."""
    output_bn: str | None = None
    """The "bn" kernel whose output is the op's output, if any: MixedCell then folds the edge's
    architecture weight into that BN's scale instead of multiplying the output afterwards."""
    residual: bool = False
    """On stride-1 edges the op's output is added to its (untransformed) input state: the identity
    shortcut binary ops carry around every stride-1 binary convolution (BATS)."""
    prepare: tuple[str, Callable[[tf.Tensor], tf.Tensor]] | None = None
    """(key, fn): ``compute`` reads fn(x) instead of x. Ops of a cell with the same key share one
    fn(x) per node group (the four BATS convolutions read one sign(x)), so the graph holds it once."""


def _sep_conv(kernel_size: int) -> BatchedOp:
    def compute(x, k, stride, groups, bn, training):
        y = depthwise_conv(x, k["dw1"], stride, 1)
        y = bn("bn1", grouped_conv2d(y, k["pw1"], groups))
        y = depthwise_conv(tf.nn.relu(y), k["dw2"], 1, 1)
        return bn("bn2", grouped_conv2d(y, k["pw2"], groups))

    return BatchedOp((KernelSpec("dw1", "depthwise", kernel_size), KernelSpec("pw1", "pointwise"), KernelSpec("bn1", "bn"),
                      KernelSpec("dw2", "depthwise", kernel_size), KernelSpec("pw2", "pointwise"), KernelSpec("bn2", "bn")),
                     compute, output_bn="bn2")


def _dil_conv(kernel_size: int, dilation: int = 2) -> BatchedOp:
    def compute(x, k, stride, groups, bn, training):
        y = depthwise_conv(x, k["dw"], stride, dilation)
        return bn("bn", grouped_conv2d(y, k["pw"], groups))

    return BatchedOp((KernelSpec("dw", "depthwise", kernel_size), KernelSpec("pw", "pointwise"), KernelSpec("bn", "bn")),
                     compute, output_bn="bn")


def _conv_bn(kernel_size: int) -> BatchedOp:
    def compute(x, k, stride, groups, bn, training):
        return bn("bn", grouped_conv2d(x, k["conv"], groups, stride))

    return BatchedOp((KernelSpec("conv", "pointwise", kernel_size), KernelSpec("bn", "bn")), compute, output_bn="bn")


def _factorized_reduce() -> BatchedOp:
    """``skip_connect`` on a stride-2 edge: two offset stride-2 1x1 convs, concat, BN.

    Output is edge-major with each edge's C channels = [conv1 half, conv2 half], as
    cell_ops.FactorizedReduce concatenates them.
    """

    def compute(x, k, stride, groups, bn, training):
        a = grouped_conv2d(x[:, ::2, ::2, :], k["conv1"], groups)
        shifted = x[:, 1::2, 1::2, :]
        if shifted.shape[1] != a.shape[1] or shifted.shape[2] != a.shape[2]:  # odd size: zero row/col as cell_ops
            shifted = tf.pad(shifted, [[0, 0], [0, a.shape[1] - shifted.shape[1]],
                                       [0, a.shape[2] - shifted.shape[2]], [0, 0]])
        b = grouped_conv2d(shifted, k["conv2"], groups)
        _, h, w, total = a.shape
        half = total // groups
        split = [-1, h, w, groups, half]
        ab = tf.concat([tf.reshape(a, split), tf.reshape(b, split)], axis=-1)
        return bn("bn", tf.reshape(ab, [-1, h, w, groups * 2 * half]))

    return BatchedOp((KernelSpec("conv1", "pointwise", 1, 0.5), KernelSpec("conv2", "pointwise", 1, 0.5),
                      KernelSpec("bn", "bn")), compute, output_bn="bn")


CONV_OPS: dict[str, BatchedOp] = {
    "sep_conv_3x3": _sep_conv(3),
    "sep_conv_5x5": _sep_conv(5),
    "dil_conv_3x3": _dil_conv(3),
    "dil_conv_5x5": _dil_conv(5),
    "nor_conv_1x1": _conv_bn(1),
    "nor_conv_3x3": _conv_bn(3),
}
"""Parametric ops that read ReLU(input) and can be batched over edges."""

FACTORIZED_REDUCE = _factorized_reduce()


def bank_shape(spec: KernelSpec, channels: int, edges: int) -> tuple[int, ...]:
    out = int(channels * spec.out_fraction)
    if spec.kind == "depthwise":
        return (spec.kernel_size, spec.kernel_size, edges * channels, 1)
    if spec.kind == "pointwise":
        return (spec.kernel_size, spec.kernel_size, _group_inputs(spec, channels), edges * out)
    return (edges * channels,)  # bn / vector: the op's output channels per edge are C


def _group_inputs(spec: KernelSpec, channels: int) -> int:
    cin = channels * spec.in_fraction
    if abs(cin - round(cin)) > 1e-6 or round(cin) < 1:
        raise ValueError(f"kernel {spec.name!r}: {channels} channels cannot be split into groups of "
                         f"{spec.in_fraction} x C")
    return int(round(cin))


def bank_initializer(spec: KernelSpec, channels: int) -> keras.initializers.Initializer:
    k2 = spec.kernel_size ** 2
    if spec.kind == "vector":
        return keras.initializers.Constant(spec.init)
    if spec.kind == "depthwise":
        return GlorotPerEdge(k2, k2)
    return GlorotPerEdge(_group_inputs(spec, channels) * k2, int(channels * spec.out_fraction) * k2)


class SymmetricClip(keras.constraints.Constraint):
    """Keep a variable in [-clip, clip] (applied by the optimizer after each update)."""

    def __init__(self, clip: float):
        self.clip = float(clip)

    def __call__(self, w):
        return tf.clip_by_value(w, -self.clip, self.clip)

    def get_config(self):
        return {"clip": self.clip}


def edge_slice(spec: KernelSpec, bank: tf.Tensor, channels: int, first_edge: int, num_edges: int) -> tf.Tensor:
    """The kernels of edges [first_edge, first_edge + num_edges) from a bank."""
    if spec.kind == "pointwise":
        width = int(channels * spec.out_fraction)
        return bank[..., first_edge * width:(first_edge + num_edges) * width]
    if spec.kind == "depthwise":
        return bank[:, :, first_edge * channels:(first_edge + num_edges) * channels, :]
    return bank[first_edge * channels:(first_edge + num_edges) * channels]


def bank_layout(spec: KernelSpec, channels: int) -> tuple[int, int]:
    """(channels per edge, axis along which a bank lays its edges side by side)."""
    if spec.kind == "pointwise":
        return int(channels * spec.out_fraction), -1
    if spec.kind == "depthwise":
        return channels, 2
    return channels, 0


def split_bank(spec: KernelSpec, bank: tf.Variable, channels: int, edge_counts: list[int],
               dtype: tf.DType | None = None) -> list[tf.Tensor]:
    """Split a bank into consecutive edge ranges of the given sizes (one read, one split op), cast to ``dtype``."""
    width, axis = bank_layout(spec, channels)
    value = tf.convert_to_tensor(bank)
    if dtype is not None and value.dtype != dtype:
        value = tf.cast(value, dtype)
    if len(edge_counts) == 1:
        return [value]
    return tf.split(value, [n * width for n in edge_counts], axis=axis)


@contextlib.contextmanager
def frozen_statistics(layer: keras.layers.Layer) -> Iterator[None]:
    """Within the block, BN layers under ``layer`` (and ``layer`` itself) do not update statistics."""
    layers = [l for l in layer._flatten_layers() if hasattr(l, "update_stats")]
    for l in layers:
        l.update_stats = False
    try:
        yield
    finally:
        for l in layers:
            l.update_stats = True
