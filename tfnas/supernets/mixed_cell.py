"""A cell of mixed edges: every edge carries every candidate op, weighted by the architecture.

Node n computes sum over incoming edges e and ops k of w[e, k] * op_k(state_source(e)).
For speed the work is regrouped without changing that sum:

- per node and per stride, each parametric op runs once over the concatenated inputs of all
  G incoming edges (batched_ops.py), reading its kernels from per-cell banks;
- parameter-free ops run once per source state and are shared by every edge that reads it (a
  pool followed by an affine-free BN gives the same tensor on every edge reading that state);
- all op outputs of a node group are stacked and reduced against the matching op weights in
  one multiply-and-sum.

``none`` contributes nothing but still takes part in the softmax. The same class serves the
DARTS cell (2 inputs, 4 nodes, output = concat of nodes, stride-2 edges from the inputs of a
reduction cell) and the NAS-Bench-201 cell (1 input, 3 nodes, output = last node).

Spaces with other parametric ops (binary ones, BATS) pass their own op registry
(``conv_ops``), their own stride-2 ``skip_connect`` (``factorized_reduce``) and the shared
transform their ops read (``input_transform``: ReLU for DARTS, an affine-free BN for BATS, whose
ops start with BN -> sign, or nothing); the defaults are the DARTS / NAS-Bench-201 ones.

With ``checkpoint=True`` the cell's activations are not kept for the backward pass but
recomputed from the cell inputs once the incoming gradient exists (gradient checkpointing):
peak memory becomes that of one cell instead of all of them, for one extra forward pass.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from tfnas.supernets.batched_ops import (CONV_OPS, FACTORIZED_REDUCE, AffineFreeBatchNorm, BatchedOp,
                                         SymmetricClip, affine_free_batch_norm, bank_initializer, bank_shape,
                                         edge_slice, frozen_statistics, split_bank, ON_READ_MEAN)

keras = tf.keras

POOLS = ("max_pool_3x3", "avg_pool_3x3")
PARAMETER_FREE = ("none", "skip_connect") + POOLS
FACTORIZED = "skip_connect@2"  # the bank name of skip_connect on stride-2 edges
INPUT_TRANSFORMS = ("relu", "batch_norm", "identity")


@dataclasses.dataclass(frozen=True)
class NodeGroup:
    """Incoming edges of one node that share a stride (contiguous edge ids)."""

    node: int
    sources: tuple[int, ...]
    stride: int
    edge_ids: tuple[int, ...]


class MixedCell(keras.layers.Layer):
    """Weighted sum of all candidate ops on all edges of one cell.

    Args:
      ops: op vocabulary (names from batched_ops.CONV_OPS plus the parameter-free ops).
      channels: C, channels of every state inside the cell.
      num_inputs: cell inputs (2 for DARTS, 1 for NAS-Bench-201).
      num_nodes: computed nodes (4 for DARTS, 3 for NAS-Bench-201).
      reduction: edges leaving the cell inputs have stride 2.
      pool_bn: pools are followed by an affine-free BN (DARTS search) or not (NAS-Bench-201).
      output: "concat" (all computed nodes) or "last" (the last node).
      checkpoint: recompute activations in the backward pass instead of storing them.
      conv_ops: registry of batchable parametric ops (default batched_ops.CONV_OPS).
      factorized_reduce: the batched op of ``skip_connect`` on stride-2 edges (default DARTS').
      input_transform: what the parametric ops (and the stride-2 skip) read, computed once per
        source state: "relu" (DARTS, NAS-Bench-201), "batch_norm" (affine-free BN), "identity".
    Call with (states, weights): ``states`` the list of input tensors, ``weights`` [num_edges,
    len(ops)] op weights, edges ordered node by node and source by source.
    """

    def __init__(self, ops: Sequence[str], channels: int, num_inputs: int, num_nodes: int,
                 reduction: bool = False, pool_bn: bool = True, output: str = "concat",
                 checkpoint: bool = False, conv_ops: Mapping[str, BatchedOp] | None = None,
                 factorized_reduce: BatchedOp | None = None, input_transform: str = "relu", **kwargs):
        super().__init__(**kwargs)
        registry = CONV_OPS if conv_ops is None else conv_ops
        unknown = [op for op in ops if op not in registry and op not in PARAMETER_FREE]
        if unknown:
            raise ValueError(f"MixedCell cannot batch ops {unknown}; known: {sorted(registry) + list(PARAMETER_FREE)}")
        if output not in ("concat", "last"):
            raise ValueError(f"output must be 'concat' or 'last', got {output!r}")
        if input_transform not in INPUT_TRANSFORMS:
            raise ValueError(f"input_transform must be one of {INPUT_TRANSFORMS}, got {input_transform!r}")
        self.input_transform = input_transform
        self.ops = tuple(ops)
        self.channels, self.num_inputs, self.num_nodes = channels, num_inputs, num_nodes
        self.reduction, self.pool_bn, self.output_mode = reduction, pool_bn, output
        self.checkpoint = checkpoint
        self.update_stats = True
        self.conv_ops = [op for op in self.ops if op in registry]
        self.groups: list[list[NodeGroup]] = []
        edge = 0
        for n in range(num_nodes):
            by_stride: dict[int, list[tuple[int, int]]] = {}
            for s in range(num_inputs + n):
                by_stride.setdefault(self._stride(s), []).append((s, edge))
                edge += 1
            self.groups.append([NodeGroup(n, tuple(s for s, _ in pairs), stride, tuple(e for _, e in pairs))
                                for stride, pairs in sorted(by_stride.items(), reverse=True)])
        self.num_edges = edge
        # Edges each parametric op runs on, and each edge's position in that op's banks.
        self.strided_edges = [e for node in self.groups for g in node if g.stride == 2 for e in g.edge_ids]
        self.batched: dict[str, BatchedOp] = {op: registry[op] for op in self.conv_ops}
        if "skip_connect" in self.ops and self.strided_edges:
            self.batched[FACTORIZED] = factorized_reduce or FACTORIZED_REDUCE
        self.pool_norms: dict[str, AffineFreeBatchNorm] = {}
        if pool_bn:
            for node in self.groups:
                for group in node:
                    for s in group.sources:
                        for op in POOLS:
                            key = _pool_key(op, s, group.stride)
                            if op in self.ops and key not in self.pool_norms:
                                self.pool_norms[key] = AffineFreeBatchNorm(name=f"bn_{key}")
        # One affine-free BN per source state when the ops read BN(state): without affine
        # parameters every op and edge reading that state would compute the same tensor.
        self.input_norms: dict[str, AffineFreeBatchNorm] = {}  # keyed "s<index>": checkpoints need str keys
        if input_transform == "batch_norm":
            for s in range(num_inputs + num_nodes - 1):
                self.input_norms[f"s{s}"] = AffineFreeBatchNorm(name=f"bn_input{s}")

    def _stride(self, source: int) -> int:
        return 2 if self.reduction and source < self.num_inputs else 1

    def _bank_position(self, op: str, edge: int) -> int:
        return self.strided_edges.index(edge) if op == FACTORIZED else edge

    def _op_groups(self, op: str) -> list[NodeGroup]:
        """The node groups ``op`` runs on, in bank order."""
        groups = [g for node in self.groups for g in node]
        return [g for g in groups if g.stride == 2] if op == FACTORIZED else groups

    def build(self, input_shape):
        self.banks: dict[str, dict[str, tf.Variable]] = {}
        for op, batched in self.batched.items():
            edges = len(self.strided_edges) if op == FACTORIZED else self.num_edges
            bank = {}
            for spec in batched.kernels:
                name = f"{op}/{spec.name}"
                shape = bank_shape(spec, self.channels, edges)
                if spec.kind == "bn":
                    bank[spec.name + "/moving_mean"] = self.add_weight(name + "/moving_mean", shape=shape,
                                                                       initializer="zeros", trainable=False,
                                           **ON_READ_MEAN)
                    bank[spec.name + "/moving_variance"] = self.add_weight(name + "/moving_variance", shape=shape,
                                                                           initializer="ones", trainable=False,
                                           **ON_READ_MEAN)
                else:
                    bank[spec.name] = self.add_weight(name, shape=shape,
                                                      initializer=bank_initializer(spec, self.channels),
                                                      constraint=SymmetricClip(spec.clip) if spec.clip else None)
            self.banks[op] = bank
        super().build(input_shape)

    # --- forward ---------------------------------------------------------------------------
    def call(self, states, weights, training=None):
        states = list(states)
        if not self.checkpoint or not training:
            return self._forward(states, weights, training)
        return _checkpointed(self, states, weights, training)

    def _forward(self, states: list[tf.Tensor], weights: tf.Tensor, training) -> tf.Tensor:
        states = list(states)
        training = bool(training)
        relu_cache: dict[int, tf.Tensor] = {}
        pool_cache: dict[str, tf.Tensor] = {}
        k_of = {op: k for k, op in enumerate(self.ops)}
        flat_weights = tf.reshape(weights, [-1])
        new_stats: dict[tuple[str, str], list[tuple[int, tf.Tensor, tf.Tensor]]] = {}

        def relu(s: int) -> tf.Tensor:  # the input transform of state s (ReLU for DARTS)
            if s not in relu_cache:
                if self.input_transform == "relu":
                    relu_cache[s] = tf.nn.relu(states[s])
                elif self.input_transform == "batch_norm":
                    relu_cache[s] = self.input_norms[f"s{s}"](states[s], training=training)
                else:
                    relu_cache[s] = states[s]
            return relu_cache[s]

        def pooled(op: str, s: int, stride: int) -> tf.Tensor:
            key = _pool_key(op, s, stride)
            if key not in pool_cache:
                pool = tf.nn.max_pool2d if op == "max_pool_3x3" else tf.nn.avg_pool2d
                y = pool(states[s], 3, stride, "SAME")
                pool_cache[key] = self.pool_norms[key](y, training=training) if self.pool_bn else y
            return pool_cache[key]

        # Read and split every bank once: group i gets the i-th slice (groups are contiguous
        # edge ranges in bank order), so a bank costs one read and one split, forward and back.
        slices: dict[tuple[str, str], list[tf.Tensor]] = {}
        for op, batched in self.batched.items():
            groups = self._op_groups(op)
            for spec in batched.kernels:
                names = [spec.name + "/moving_mean", spec.name + "/moving_variance"] if spec.kind == "bn" else [spec.name]
                for name in names:
                    slices[(op, name)] = split_bank(spec, self.banks[op][name], self.channels,
                                                    [len(g.edge_ids) for g in groups])

        def run(op: str, x: tf.Tensor, group: NodeGroup) -> tf.Tensor:
            batched = self.batched[op]
            i = self._op_groups(op).index(group)
            kernels = {spec.name: slices[(op, spec.name)][i] for spec in batched.kernels if spec.kind != "bn"}

            def bn(name: str, y: tf.Tensor) -> tf.Tensor:
                out, new_mean, new_var = affine_free_batch_norm(
                    y, slices[(op, name + "/moving_mean")][i], slices[(op, name + "/moving_variance")][i], training)
                if training:
                    new_stats.setdefault((op, name), []).append((i, new_mean, new_var))
                return out

            y = batched.compute(x, kernels, group.stride, len(group.edge_ids), bn, training)
            if batched.residual and group.stride == 1:
                y = y + cat([states[s] for s in group.sources])
            return y

        def cat(tensors: list[tf.Tensor]) -> tf.Tensor:
            return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=-1)

        num_ops = len(self.ops)
        for node in self.groups:
            terms = []
            for group in node:
                # Every op output of the group goes into one concatenation, op-major and edge-minor,
                # with one architecture weight per C-channel block of it.
                blocks, index = [], []
                strided_skip = "skip_connect" in self.ops and group.stride == 2
                x = cat([relu(s) for s in group.sources]) if (self.conv_ops or strided_skip) else None
                for op in self.conv_ops:
                    blocks.append(run(op, x, group))
                    index.extend(e * num_ops + k_of[op] for e in group.edge_ids)
                if strided_skip:
                    blocks.append(run(FACTORIZED, x, group))
                    index.extend(e * num_ops + k_of["skip_connect"] for e in group.edge_ids)
                elif "skip_connect" in self.ops:
                    blocks.extend(states[s] for s in group.sources)
                    index.extend(e * num_ops + k_of["skip_connect"] for e in group.edge_ids)
                for op in POOLS:
                    if op in self.ops:
                        blocks.extend(pooled(op, s, group.stride) for s in group.sources)
                        index.extend(e * num_ops + k_of[op] for e in group.edge_ids)
                if blocks:
                    terms.append(_weighted_sum(cat(blocks), tf.gather(flat_weights, index), self.channels))
            if terms:
                states.append(tf.add_n(terms))
            else:  # a vocabulary of only 'none': the node is zero
                group = node[0]
                ref = states[group.sources[0]]
                states.append(tf.zeros_like(ref[:, ::group.stride, ::group.stride, :]))
        if training and self.update_stats:
            self._assign_statistics(new_stats)
        if self.output_mode == "last":
            return states[-1]
        return tf.concat(states[self.num_inputs:], axis=-1)

    def _assign_statistics(self, new_stats) -> None:
        """One assign per statistics bank: the groups' new statistics in bank order."""
        for (op, name), parts in new_stats.items():
            parts = sorted(parts, key=lambda p: p[0])
            self.banks[op][name + "/moving_mean"].assign(tf.concat([p[1] for p in parts], 0))
            self.banks[op][name + "/moving_variance"].assign(tf.concat([p[2] for p in parts], 0))

    # --- per-edge views (tests, weight inheritance) ------------------------------------------
    def edge_weights(self, op: str, edge: int) -> dict[str, np.ndarray]:
        """Edge ``edge``'s kernels and BN statistics of ``op`` (FactorizedReduce: ``skip_connect@2``)."""
        batched, bank = self.batched[op], self.banks[op]
        pos = self._bank_position(op, edge)
        out = {}
        for spec in batched.kernels:
            if spec.kind == "bn":
                for stat in ("moving_mean", "moving_variance"):
                    out[f"{spec.name}/{stat}"] = edge_slice(spec, bank[f"{spec.name}/{stat}"], self.channels, pos, 1).numpy()
            else:
                out[spec.name] = edge_slice(spec, bank[spec.name], self.channels, pos, 1).numpy()
        return out


def _pool_key(op: str, source: int, stride: int) -> str:
    return f"{op}_{source}_{stride}"


def _weighted_sum(stacked: tf.Tensor, w: tf.Tensor, channels: int) -> tf.Tensor:
    """sum_j w[j] * stacked[..., j*C:(j+1)*C] for stacked of shape [B, H, W, J*C]."""
    _, h, width, total = stacked.shape
    j = total // channels
    if j == 1:
        return w[0] * stacked
    y = tf.reshape(stacked, [-1, h, width, j, channels])  # static sizes: no shape ops in the graph
    return tf.reduce_sum(y * w[:, None], axis=3)


def _checkpointed(cell: MixedCell, states: list[tf.Tensor], weights: tf.Tensor, training) -> tf.Tensor:
    """Run ``cell`` keeping only its inputs; recompute its activations when gradients are needed."""

    @tf.custom_gradient
    def forward(*flat):
        out = cell._forward(list(flat[:-1]), flat[-1], training)

        def grad(dy, variables=None):
            variables = list(variables or [])
            # Recompute only once the incoming gradient exists; otherwise the runtime is free to
            # recompute every cell right after the forward pass and nothing is saved.
            with tf.control_dependencies([dy]):
                inputs = [tf.identity(t) for t in flat]
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                with frozen_statistics(cell):
                    again = cell._forward(inputs[:-1], inputs[-1], training)
            grads = tape.gradient(again, inputs + variables, output_gradients=dy)
            return grads[:len(flat)], grads[len(flat):]

        return out, grad

    return forward(*states, weights)
