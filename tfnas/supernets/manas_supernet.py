"""MANAS' search network: DARTS' layout over sampled cells, one agent's choice per edge.

Stem, ``layers`` cells (reductions at layers//3 and 2*layers//3) and classifier are DARTS'
search network (``DartsLayoutMixin`` with ``cell_class=SampledCell``: affine-free BN in the
cells); every edge of every cell runs exactly one op per step. The path (one int32 op index per
agent) comes from the MANAS agents, which the driver assigns with ``use_path`` before each
round: per-cell agents (``layers x 14``, the paper's setting) or, with ``share_cells``, DARTS'
normal and reduce cells (``2 x 14``). Training, ``PathSGD`` (untaken ops: no gradient, momentum
or decay), BN recalibration and fixed-path scoring are the generic core's
(``tfnas.supernets.path_sampling``); ``export_child`` copies a genotype's path into the child
network that genotype builds (with search-mode ops), which then computes what the path computes.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from tfnas.spaces import darts, manas
from tfnas.spaces.darts_network import build_darts_network
from tfnas.supernets.differentiable import DartsLayoutMixin, search_preprocess
from tfnas.supernets.path_sampling import PathSamplingSupernet, batchnorms, recompute_in_backward, transfer_weights
from tfnas.supernets.sampled_cell import SampledCell

keras = tf.keras


class ManasSupernet(DartsLayoutMixin, PathSamplingSupernet):
    """DARTS search network whose cells run the agents' path (one op per edge).

    Args:
      num_classes, init_channels, layers, stem_multiplier: DARTS' search network (16 channels, 8 cells).
      share_cells: agents per shared cell type (normal, reduce) instead of per cell.
      ops: every edge's candidates (all 8 DARTS ops; a subset for ablations and small tests).
      checkpoint: keep only each cell's two input states for the backward pass and recompute the
        cell's path (preprocessing included) there, itself edge by edge: the peak is one cell's states
        plus one op's activations instead of the whole path's (each op then runs forward three
        times per step; measured in benchmarks/manas_step.py).
      grad_clip: global-norm clip of each step's gradients (DARTS: 5; None: off).
      input_shape: (H, W, C) to create every candidate's weights at once (else ``build_all`` later).
    """

    def __init__(self, num_classes: int, init_channels: int = 16, layers: int = 8, stem_multiplier: int = 3,
                 share_cells: bool = False, ops: Sequence[str] = manas.OPS, checkpoint: bool = True,
                 grad_clip: float | None = 5.0, seed: int = 0, input_shape: Sequence[int] | None = None, **kwargs):
        space = manas.manas_space(layers, share_cells, ops)
        super().__init__([len(c.options) for c in space.choices], seed=seed, **kwargs)
        self.space, self.ops = space, tuple(ops)
        self.num_classes, self.init_channels, self.num_layers = num_classes, init_channels, layers
        self.share_cells, self.grad_clip, self.checkpoint = share_cells, grad_clip, checkpoint
        self._build_darts_layout(num_classes, init_channels, layers, stem_multiplier, search_preprocess,
                                 cell_class=SampledCell, recompute_edges=checkpoint)
        if input_shape is not None:
            self.build_all(input_shape)

    # --- the layout's hooks: each cell reads its agents' slice of the path -----------------------------
    def layout_architecture(self) -> tf.Tensor:
        return self.path

    def cell_architecture(self, path, index: int):
        offset = manas.agent_offset(index, self.num_layers, self.share_cells)
        return path[offset:offset + darts.NUM_EDGES]

    def cell_forward(self, index: int, s0, s1, architecture, training=None):
        plain = super().cell_forward
        if not (self.checkpoint and training):
            return plain(index, s0, s1, architecture, training)
        return recompute_in_backward(lambda a, b: plain(index, a, b, architecture, training), [s0, s1],
                                     [*self.preprocess[index], self.cells[index]])

    # --- the path-sampling core's hooks --------------------------------------------------------------------
    def build_all(self, input_shape: Sequence[int]) -> None:
        """Create every candidate's weights (a traced switch builds only the branch it runs) by running
        each candidate once, eagerly, on one all-zero image in inference mode (BN statistics stay
        as initialised): half the time of building on a symbolic input, whose every layer Keras
        would trace into a graph, and one image's activations of memory."""
        x = tf.zeros((1, *input_shape))
        s0 = s1 = self.stem_bn(self.stem_conv(x), training=False)
        for i, cell in enumerate(self.cells):
            pre0, pre1 = self.preprocess[i]
            s0, s1 = s1, cell.build_candidates([pre0(s0, training=False), pre1(s1, training=False)])
        self.classifier(self.global_pool(s1))
        self.built = True

    def forward(self, x, path, training=None, frozen_training=False):
        s = self.stem_bn(self.stem_conv(x), training=training)
        return self._darts_layout_forward(s, s, training, architecture=path)

    def option_variables(self) -> list[tuple[tf.Variable, tuple[int, int]]]:
        """(variable, (agent, op)) for every candidate op's variables; shared cells' agents own an op
        in every cell of their type."""
        owners = []
        for i, cell in enumerate(self.cells):
            offset = manas.agent_offset(i, self.num_layers, self.share_cells)
            for e, edge in enumerate(cell.edges):
                for j, op in enumerate(edge.candidates):
                    owners += [(v, (offset + e, j)) for v in op.variables]
        return owners

    def path_layers(self, path: Sequence[int]) -> list[keras.layers.Layer]:
        """The layers a fixed path runs: stem, every cell's preprocessing and chosen ops, classifier."""
        path = np.asarray(path)
        out: list[keras.layers.Layer] = [self.stem_conv, self.stem_bn]
        for i, cell in enumerate(self.cells):
            out += list(self.preprocess[i])
            offset = manas.agent_offset(i, self.num_layers, self.share_cells)
            out += [edge.candidates[int(path[offset + e])] for e, edge in enumerate(cell.edges)]
        return out + [self.classifier]

    def path_batchnorms(self, path: np.ndarray) -> list[keras.layers.BatchNormalization]:
        out = []
        for layer in self.path_layers(path):
            out += [layer] if isinstance(layer, keras.layers.BatchNormalization) else batchnorms(layer)
        return out

    # --- genotypes ---------------------------------------------------------------------------------------------
    def path_of(self, genotype) -> np.ndarray:
        return manas.path_of(genotype, self.num_layers, self.share_cells, self.ops)

    def export_child(self, genotype, input_shape: Sequence[int]) -> keras.Model:
        """The child network of ``genotype`` built with search-mode ops (affine-free BN, BN after
        pools), holding this supernet's weights and BN statistics: it computes what the genotype's path
        (``path_of``) computes here."""
        cells = [manas.cell_pairs(genotype, i, self.num_layers) for i in range(self.num_layers)]
        per_cell = [darts.DartsGenotype(pairs, pairs) for pairs in cells]
        child = build_darts_network(per_cell, self.num_classes, tuple(input_shape), self.init_channels,
                                    self.num_layers, stem="cifar", affine=False, name="manas_child")
        path = self.path_of(genotype)
        pairs = [(self.stem_conv, child.get_layer("stem_conv")), (self.stem_bn, child.get_layer("stem_bn")),
                 (self.classifier, child.get_layer("classifier"))]
        for i, cell in enumerate(self.cells):
            target = child.get_layer(f"cell{i}")
            pairs += [(self.preprocess[i][0], target.pre0), (self.preprocess[i][1], target.pre1)]
            offset = manas.agent_offset(i, self.num_layers, self.share_cells)
            for k, (op, src) in enumerate(cells[i]):
                e = darts.edge_index(k // 2, src)
                pairs.append((cell.edges[e].candidates[int(path[offset + e])], target.edge_ops[k]))
        transfer_weights(pairs)
        return child


__all__ = ["ManasSupernet"]
