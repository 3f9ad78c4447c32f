"""A sampled DARTS cell: every edge holds its candidate ops and runs exactly one per step.

MANAS (Carlucci et al.) gives each edge of a cell its own agent, which picks one op per round.
Each edge here is a ``ChoiceLayer`` (``tf.switch_case`` over the edge's candidate layers from
``tfnas.ops.cell_ops``, in search mode: affine-free BN, BN after pooling), so only the chosen op
runs and is differentiated: memory and compute are those of one path, and the untaken ops get no
gradient (``PathSGD`` keeps their momentum and weight decay still). A node is the sum of its
incoming edges' outputs, the cell output the concatenation of its nodes, as in DARTS.

The cell is a drop-in ``cell_class`` for ``DartsLayoutMixin``: it is called as
``cell(states, path)`` with ``path`` the cell's [14] int32 op indices, edges ordered node by node
and source by source (``tfnas.spaces.darts.EDGES``). With ``recompute_edges`` each edge's op
activations are recomputed in the backward pass instead of kept (``ManasSupernet`` also wraps a
whole cell and its input preprocessing that way).
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from tfnas.ops.cell_ops import DARTS_OPS
from tfnas.supernets.path_sampling import ChoiceLayer, recompute_in_backward

keras = tf.keras


class SampledCell(keras.layers.Layer):
    """One DARTS cell of ``ChoiceLayer`` edges; ``call(states, path)`` runs the path's op on every edge.

    Args (``DartsLayoutMixin``'s cell signature):
      ops: candidate op names (``tfnas.ops.cell_ops.DARTS_OPS`` keys), the same on every edge.
      channels: C of every state inside the cell.
      num_inputs, num_nodes: 2 and 4 in DARTS.
      reduction: edges leaving the cell inputs have stride 2.
      pool_bn: must be True: DARTS' search ops put an affine-free BN after pooling.
      output: "concat" (DARTS: every node concatenated).
      recompute_edges: in training, keep only each edge's input for the backward pass and recompute
        its op's activations there (``recompute_in_backward``).
    """

    def __init__(self, ops: Sequence[str], channels: int, num_inputs: int, num_nodes: int, reduction: bool = False,
                 pool_bn: bool = True, output: str = "concat", recompute_edges: bool = False, **kwargs):
        super().__init__(**kwargs)
        unknown = [op for op in ops if op not in DARTS_OPS]
        if unknown:
            raise ValueError(f"SampledCell has no layers for ops {unknown}; known: {sorted(DARTS_OPS)}")
        if not pool_bn or output != "concat":
            raise ValueError("SampledCell builds DARTS' search cell: pool_bn=True and output='concat'")
        self.ops = tuple(ops)
        self.channels, self.num_inputs, self.num_nodes = channels, num_inputs, num_nodes
        self.reduction, self.recompute_edges = reduction, recompute_edges
        self.sources: list[int] = []
        self.edges: list[ChoiceLayer] = []
        for node in range(num_nodes):
            for src in range(num_inputs + node):
                stride = 2 if reduction and src < num_inputs else 1
                candidates = []
                for op in self.ops:
                    layer = DARTS_OPS[op](channels, stride, False)
                    layer._name = op
                    candidates.append(layer)
                self.sources.append(src)
                self.edges.append(ChoiceLayer(candidates, name=f"edge{len(self.edges)}"))

    @property
    def num_edges(self) -> int:
        return len(self.edges)

    def build_candidates(self, states: Sequence[tf.Tensor]) -> tf.Tensor:
        """Run every candidate of every edge once (on symbolic or real states) so all weights exist;
        returns the output of the path that takes each edge's first op."""
        states = list(states)
        e = 0
        for node in range(self.num_nodes):
            outputs = []
            for src in range(self.num_inputs + node):
                outputs.append(self.edges[e].build_candidates(states[src])[0])
                e += 1
            states.append(tf.add_n(outputs))
        self.built = True
        return tf.concat(states[self.num_inputs:], axis=-1)

    def call(self, states, path, training=None):
        states = list(states)
        e = 0
        for node in range(self.num_nodes):
            outputs = []
            for src in range(self.num_inputs + node):
                edge = self.edges[e]
                if self.recompute_edges and training:
                    outputs.append(recompute_in_backward(lambda x, edge=edge, i=path[e]: edge(x, i, training=training),
                                                         [states[src]], [edge]))
                else:
                    outputs.append(edge(states[src], path[e], training=training))
                e += 1
            states.append(tf.add_n(outputs))
        return tf.concat(states[self.num_inputs:], axis=-1)


__all__ = ["SampledCell"]
