"""A cell of mixed edges: every edge carries every candidate op, weighted by the architecture.

Node n computes sum over incoming edges e and ops k of w[e, k] * op_k(state_source(e)).
For speed the work is regrouped without changing that sum:

- per node and per stride, each parametric op runs once over the concatenated inputs of all
  G incoming edges (batched_ops.py), reading its kernels from per-cell banks;
- parameter-free ops run once per source state and are shared by every edge that reads it (a
  pool followed by an affine-free BN gives the same tensor on every edge reading that state);
- each edge's weight of a parametric op is the scale of that op's last (affine-free) BN, so the
  BN kernel applies it and its backward pass yields its gradient; parameter-free ops' shared
  tensors are multiplied by their weights; a node is one sum of these terms.

``none`` contributes nothing but still takes part in the softmax. The same class serves the
DARTS cell (2 inputs, 4 nodes, output = concat of nodes, stride-2 edges from the inputs of a
reduction cell) and the NAS-Bench-201 cell (1 input, 3 nodes, output = last node).

Spaces with other parametric ops (binary ones, BATS) pass their own op registry
(``conv_ops``), their own stride-2 ``skip_connect`` (``factorized_reduce``) and the shared
transform their ops read (``input_transform``: ReLU for DARTS, an affine-free BN for BATS, whose
ops start with BN -> sign, or nothing); the defaults are the DARTS / NAS-Bench-201 ones.

With ``checkpoint=True`` the cell's activations are not kept for the backward pass but
recomputed node by node, from the kept cell inputs and node outputs, once that node's incoming
gradient exists (gradient checkpointing): peak memory becomes that of one node instead of all
cells, for one extra forward pass.

Under a mixed-precision policy the cell computes in the policy's dtype (bfloat16/float16); its
architecture weights, the BN scales they become and the BN statistics stay float32.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from tfnas.supernets.batched_ops import (CONV_OPS, FACTORIZED_REDUCE, AffineFreeBatchNorm, BatchedOp,
                                         SymmetricClip, affine_free_batch_norm, bank_initializer, bank_layout,
                                         bank_shape, edge_slice, frozen_statistics, split_bank, STATISTICS)

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
        self.synchronized = False  # BN over the global batch under a multi-replica strategy (replicas.py)
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
        # Per node, the (edge, op) weights that multiply a tensor (the stride-1 skip, the pools): the
        # only scalars a node reads, so a pass gathers these instead of unstacking every weight (the
        # gradient of a full unstack is a stack with a zero constant per unread weight)
        skip = ("skip_connect",) if "skip_connect" in self.ops else ()
        pools = tuple(op for op in POOLS if op in self.ops)
        self.multiplied: list[list[tuple[int, str]]] = [
            [(e, op) for g in node for e in g.edge_ids for op in (skip if g.stride == 1 else ()) + pools]
            for node in self.groups]
        self.node_of_edge = {e: n for n, node in enumerate(self.groups) for g in node for e in g.edge_ids}
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
                                                                       **STATISTICS)
                    bank[spec.name + "/moving_variance"] = self.add_weight(name + "/moving_variance", shape=shape,
                                                                           initializer="ones", trainable=False,
                                                                           **STATISTICS)
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
        forward = _CellPass(self, states, weights, training)
        nodes = [forward.node(n) for n in range(self.num_nodes)]
        forward.assign_statistics()
        return self._output(nodes)

    def _output(self, nodes: list[tf.Tensor]) -> tf.Tensor:
        return nodes[-1] if self.output_mode == "last" else tf.concat(nodes, axis=-1)

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


def _sum_over_edges(y: tf.Tensor, edges: int, channels: int) -> tf.Tensor:
    """sum_e y[..., e*C:(e+1)*C] for y of shape [B, H, W, edges*C]."""
    if edges == 1:
        return y
    _, h, width, _ = y.shape
    return tf.reduce_sum(tf.reshape(y, [-1, h, width, edges, channels]), axis=3)  # static sizes: no shape ops


class _CellPass:
    """One evaluation of a cell's nodes from its inputs, sharing what nodes have in common.

    Node n computes sum over incoming edges e and ops k of w[e, k] * op_k(state(e)), regrouped:
    per node group, the parametric ops' outputs for all G edges side by side (G*C channels, each
    edge weighted inside the op's last BN, as its scale), summed over ops and then over edges, plus
    every parameter-free op's tensor (shared by all edges reading the same state) times its weight.
    The input transform (ReLU) and the pools of a state are computed once per pass.
    """

    def __init__(self, cell: MixedCell, states: list[tf.Tensor], weights: tf.Tensor, training,
                 kernel_pieces: dict[str, dict[str, list[tf.Tensor | None]]] | None = None):
        self.cell, self.states, self.training = cell, list(states), bool(training)
        self.dtype = states[0].dtype  # the compute dtype: Keras casts a layer's inputs to its policy
        self.weights = tf.cast(weights, tf.float32)  # architecture weights stay float32 (softmax, BN scales)
        self.k_of = {op: k for k, op in enumerate(cell.ops)}
        self.new_stats: dict[tuple[str, str], list[tuple[int, tf.Tensor, tf.Tensor]]] = {}
        self._transformed: dict[int, tf.Tensor] = {}
        self._pooled: dict[str, tf.Tensor] = {}
        self._prepared: dict[tuple[str, object], tf.Tensor] = {}
        # ``kernel_pieces``: trainable kernels already read and split (float32), per op, kernel name
        # and group; the checkpointed backward pass gives each node's recomputation its own pieces
        self._kernels: dict[str, dict[str, list[tf.Tensor]]] = {}
        for op, names in (kernel_pieces or {}).items():
            self._kernels[op] = {name: [None if t is None else _as(t, self.dtype) for t in parts]
                                 for name, parts in names.items()}
        self._scalars: dict[tuple[int, str], tf.Tensor] = {}
        self._per_channel: tf.Tensor | None = None

    # --- shared pieces (computed on first use) ------------------------------------------------
    def scalar(self, edge: int, op: str) -> tf.Tensor:
        """w[edge, op] in the compute dtype, for the terms weighted by a multiplication."""
        if (edge, op) not in self._scalars:
            cell = self.cell  # a checkpointed node's recomputation reads its own node's scalars only
            read = cell.multiplied[cell.node_of_edge[edge]] if cell.checkpoint else sum(cell.multiplied, [])
            flat = tf.reshape(tf.cast(self.weights, self.dtype), [-1])
            picked = tf.gather(flat, [e * len(self.cell.ops) + self.k_of[o] for e, o in read])
            self._scalars.update(zip(read, tf.unstack(picked, num=len(read))))
        return self._scalars[(edge, op)]

    def channel_weights(self, group: NodeGroup, op: str) -> tf.Tensor:
        """w[edge, op] repeated over each edge's C channels, float32 [G*C]: a per-channel BN scale."""
        cell, c = self.cell, self.cell.channels
        if self._per_channel is None:  # [num_ops, num_edges * C]
            self._per_channel = tf.reshape(
                tf.broadcast_to(tf.transpose(self.weights)[:, :, None], [len(cell.ops), cell.num_edges, c]),
                [len(cell.ops), cell.num_edges * c])
        first, last = group.edge_ids[0], group.edge_ids[-1] + 1  # a group's edges are contiguous
        return self._per_channel[self.k_of[op], first * c:last * c]

    def transformed(self, s: int) -> tf.Tensor:
        """The input transform of state s (ReLU for DARTS), shared by every op and edge reading it."""
        if s not in self._transformed:
            cell, x = self.cell, self.states[s]
            if cell.input_transform == "relu":
                x = tf.nn.relu(x)
            elif cell.input_transform == "batch_norm":
                x = cell.input_norms[f"s{s}"](x, training=self.training)
            self._transformed[s] = x
        return self._transformed[s]

    def pooled(self, op: str, s: int, stride: int) -> tf.Tensor:
        key = _pool_key(op, s, stride)
        if key not in self._pooled:
            pool = tf.nn.max_pool2d if op == "max_pool_3x3" else tf.nn.avg_pool2d
            y = pool(self.states[s], 3, stride, "SAME")
            self._pooled[key] = self.cell.pool_norms[key](y, training=self.training) if self.cell.pool_bn else y
        return self._pooled[key]

    def kernels(self, op: str) -> dict[str, list[tf.Tensor]]:
        """Every bank of ``op`` read and split once: group i gets the i-th slice (groups are
        contiguous edge ranges in bank order). Kernels are cast to the compute dtype here (also
        when recomputed for the gradient, outside Keras' autocast scope); statistics stay float32."""
        split = self._kernels.setdefault(op, {})
        cell = self.cell
        counts = None
        for spec in cell.batched[op].kernels:
            names = [spec.name + "/moving_mean", spec.name + "/moving_variance"] if spec.kind == "bn" else [spec.name]
            for name in names:
                if name not in split:
                    counts = counts or [len(g.edge_ids) for g in cell._op_groups(op)]
                    split[name] = split_bank(spec, cell.banks[op][name], cell.channels, counts,
                                             None if spec.kind == "bn" else self.dtype)
        return split

    def prepared(self, batched: BatchedOp, x: tf.Tensor) -> tf.Tensor:
        """``x`` as ``batched`` reads it: its ``prepare`` fn(x), computed once per input and key."""
        if batched.prepare is None:
            return x
        key, fn = batched.prepare
        cache_key = (key, x.ref())
        if cache_key not in self._prepared:
            self._prepared[cache_key] = fn(x)
        return self._prepared[cache_key]

    # --- nodes ----------------------------------------------------------------------------------
    def run(self, op: str, x: tf.Tensor, group: NodeGroup, arch_op: str) -> tf.Tensor:
        """``op`` on every edge of ``group``, each edge's output already times w[edge, arch_op]."""
        cell = self.cell
        batched = cell.batched[op]
        i = cell._op_groups(op).index(group)
        split = self.kernels(op)
        kernels = {spec.name: split[spec.name][i] for spec in batched.kernels if spec.kind != "bn"}
        residual = batched.residual and group.stride == 1
        fold = batched.output_bn is not None and not residual
        scale = self.channel_weights(group, arch_op)

        def bn(name: str, y: tf.Tensor) -> tf.Tensor:
            out, new_mean, new_var = affine_free_batch_norm(
                y, split[name + "/moving_mean"][i], split[name + "/moving_variance"][i], self.training,
                scale=scale if fold and name == batched.output_bn else None, synchronized=cell.synchronized)
            if self.training:
                self.new_stats.setdefault((op, name), []).append((i, new_mean, new_var))
            return out

        y = batched.compute(self.prepared(batched, x), kernels, group.stride, len(group.edge_ids), bn, self.training)
        if residual:
            y = y + _cat([self.states[s] for s in group.sources])
        return y if fold else y * tf.cast(scale, y.dtype)

    def node(self, n: int) -> tf.Tensor:
        """Node n from ``states`` (which must hold the cell inputs and nodes 0..n-1); appended to them."""
        cell = self.cell
        skip = "skip_connect" in cell.ops
        terms = []
        for group in cell.groups[n]:
            wide = []
            strided_skip = skip and group.stride == 2
            if cell.conv_ops or strided_skip:
                x = _cat([self.transformed(s) for s in group.sources])
                wide = [self.run(op, x, group, op) for op in cell.conv_ops]
                if strided_skip:
                    wide.append(self.run(FACTORIZED, x, group, "skip_connect"))
                terms.append(_sum_over_edges(tf.add_n(wide), len(group.edge_ids), cell.channels))
            for e, s in zip(group.edge_ids, group.sources):
                if skip and group.stride == 1:
                    terms.append(self.scalar(e, "skip_connect") * self.states[s])
                for op in POOLS:
                    if op in cell.ops:
                        terms.append(self.scalar(e, op) * self.pooled(op, s, group.stride))
        if terms:
            out = tf.add_n(terms)
        else:  # a vocabulary of only 'none': the node is zero
            group = cell.groups[n][0]
            ref = self.states[group.sources[0]]
            out = tf.zeros_like(ref[:, ::group.stride, ::group.stride, :])
        self.states.append(out)
        return out

    def assign_statistics(self) -> None:
        if self.training and self.cell.update_stats:
            self.cell._assign_statistics(self.new_stats)


def _cat(tensors: list[tf.Tensor]) -> tf.Tensor:
    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=-1)


def _checkpointed(cell: MixedCell, states: list[tf.Tensor], weights: tf.Tensor, training) -> tf.Tensor:
    """Run ``cell`` keeping only its inputs and node outputs; recompute the rest node by node.

    The backward pass goes through the nodes from the last to the first; each node's activations
    are recomputed (from the kept states) only once that node's incoming gradient is complete,
    and freed after its backward step, so peak memory is that of one node, not of the cell.
    """
    num_inputs = len(states)

    @tf.custom_gradient
    def forward(*flat):
        inputs, w = list(flat[:-1]), flat[-1]
        first = _CellPass(cell, inputs, w, training)
        nodes = [first.node(n) for n in range(cell.num_nodes)]
        first.assign_statistics()

        def grad(dy, variables=None):
            variables = list(variables or [])
            # Every trainable bank is read and split once for the whole backward pass; a node's
            # recomputation differentiates only its own groups' pieces, and each bank's gradient is
            # one concatenation of its pieces' gradients (re-splitting every bank per node made
            # zero-filled split gradients and full-bank sums: ~4k graph nodes in the DARTS supernet).
            pieces = _trainable_pieces(cell)
            piece_grads = {key: [None] * len(parts) for key, parts in pieces.items()}
            banked = {_variable_key(cell.banks[op][name]): (op, name) for op, name in pieces}
            others = [v for v in variables if _variable_key(v) not in banked]
            d_nodes = [None] * cell.num_nodes
            if cell.output_mode == "last":
                d_nodes[-1] = dy
            else:
                d_nodes = list(tf.split(dy, cell.num_nodes, axis=-1))
            d_inputs = [None] * num_inputs
            d_w, d_vars = None, [None] * len(variables)
            for n in reversed(range(cell.num_nodes)):
                if d_nodes[n] is None:
                    continue
                # Recompute node n only once its gradient is complete (later nodes done);
                # otherwise the runtime is free to recompute every node at once and nothing is saved.
                with tf.control_dependencies([d_nodes[n]]):
                    kept = [tf.identity(t) for t in inputs + nodes[:n] + [w]]
                sources, w_kept = kept[:-1], kept[-1]
                mine = [(key, i) for key in pieces for i in _node_group_positions(cell, key[0], n)]
                own = {}
                for (op, name), i in mine:
                    own.setdefault(op, {}).setdefault(name, [None] * len(pieces[(op, name)]))[i] = pieces[(op, name)][i]
                watched = [pieces[key][i] for key, i in mine]
                with tf.GradientTape() as tape:
                    tape.watch(kept + watched)
                    with frozen_statistics(cell):
                        again = _CellPass(cell, sources, w_kept, training, kernel_pieces=own).node(n)
                grads = tape.gradient(again, kept + watched + others, output_gradients=d_nodes[n])
                for j, g in enumerate(grads[:len(sources)]):
                    if j < num_inputs:
                        d_inputs[j] = _accumulate(d_inputs[j], g)
                    else:
                        d_nodes[j - num_inputs] = _accumulate(d_nodes[j - num_inputs], g)
                d_w = _accumulate(d_w, grads[len(sources)])
                for (key, i), g in zip(mine, grads[len(kept):len(kept) + len(watched)]):
                    piece_grads[key][i] = _accumulate(piece_grads[key][i], g)
                d_others = iter(grads[len(kept) + len(watched):])  # in the order of ``others``
                for j, v in enumerate(variables):
                    if _variable_key(v) not in banked:
                        d_vars[j] = _accumulate(d_vars[j], next(d_others))
            for j, v in enumerate(variables):
                if _variable_key(v) not in banked and d_vars[j] is None:
                    # a bank reached through a wrapper the key does not see would get no gradient
                    raise RuntimeError(f"checkpointed cell {cell.name}: no gradient for {v.name}")
                if _variable_key(v) in banked:
                    op, name = banked[_variable_key(v)]
                    d_vars[j] = _assemble(cell, op, name, pieces[(op, name)], piece_grads[(op, name)])
            d_inputs = [tf.zeros_like(t) if g is None else g for t, g in zip(inputs, d_inputs)]
            d_w = tf.zeros_like(w) if d_w is None else d_w
            return d_inputs + [d_w], d_vars

        return cell._output(nodes), grad

    return forward(*states, weights)


def _variable_key(v) -> int:
    """The same key for a variable and its mixed-precision (autocast) or distributed wrapper."""
    return id(v.handle)


def _as(t: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    return t if t.dtype == dtype else tf.cast(t, dtype)


def _trainable_pieces(cell: MixedCell) -> dict[tuple[str, str], list[tf.Tensor]]:
    """Every trainable bank of ``cell`` read once and split into its groups (float32)."""
    pieces = {}
    for op, batched in cell.batched.items():
        counts = [len(g.edge_ids) for g in cell._op_groups(op)]
        for spec in batched.kernels:
            if spec.kind != "bn":
                pieces[(op, spec.name)] = split_bank(spec, cell.banks[op][spec.name], cell.channels, counts)
    return pieces


def _node_group_positions(cell: MixedCell, op: str, node: int) -> list[int]:
    """Positions, in ``op``'s bank order, of the groups of ``node``."""
    return [i for i, g in enumerate(cell._op_groups(op)) if g.node == node]


def _assemble(cell: MixedCell, op: str, name: str, parts: list[tf.Tensor], grads: list) -> tf.Tensor:
    """A bank's gradient from its pieces' gradients (zeros for a piece no node used)."""
    spec = next(s for s in cell.batched[op].kernels if s.name == name)
    _, axis = bank_layout(spec, cell.channels)
    grads = [tf.zeros_like(p) if g is None else tf.cast(g, p.dtype) for p, g in zip(parts, grads)]
    return grads[0] if len(grads) == 1 else tf.concat(grads, axis=axis)


def _accumulate(total, g):
    if g is None:
        return total
    return g if total is None else total + g
