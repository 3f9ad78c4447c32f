"""HURRICANE's single-path one-shot supernet (SPOS, Guo et al. 2020) on the generic path-sampling core.

Stem -> 20 choice layers (one per searchable layer of the HURRICANE space, each holding its
candidate mobile ops) -> head. A training step samples one op per layer uniformly (stateless,
from (seed, step)) and runs, differentiates and updates only that path (``PathSGD``); sampling,
the train step, BN recalibration and fixed-path scoring are the core's
(tfnas/supernets/path_sampling.py). What is HURRICANE's here: the layer layout, op names as
paths (``path_for`` / ``ops_for``), frozen layers for the two-stage search, SPOS' affine-free BN,
and ``export_child``, which copies a path's weights into the child network of the matching genotype
(``tfnas.spaces.hurricane_network.build_child``) so the two compute the same function.

Affine-free BN (``bn_affine=False``, SPOS' supernet: ``BatchNorm2d(affine=False)`` everywhere): the
BN layers keep their scale and offset variables at their initial values (1 and 0) and never train
them, which is the same function as BN without them. The child network has ordinary (affine) BN, so
the weight transfer needs no special case: the child receives scale 1 and offset 0, computes what
the path computed, and learns its own scale and offset when it is trained.

Zero-initialised residual branches (``zero_init_residual=True``, not SPOS' default; "zero-gamma",
Goyal et al. 2017): the last BN of every inverted residual that has an identity shortcut starts
with scale 0 and learns its scale and offset (even when the rest of the BN is affine-free), so at
initialisation those candidates are the identity and every path through them computes the same
function. It addresses one of the two reasons a sampled supernet stays at chance on small budgets
(docs/BENCHMARKS.md, issue 13.1): independently initialised candidates give every path unrelated
features. Layers without a shortcut (each stage's strided first layer, shuffle units) are unchanged.

Frozen layers (stage 2 of the two-stage search) run in inference mode and contribute no variable
to the step's gradient: backpropagation passes through them (the searched layers come first) but
computes no weight gradients for them.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf

from tfnas.ops import mobile_ops
from tfnas.spaces import hurricane, hurricane_network
from tfnas.supernets.path_sampling import (ChoiceLayer, PathSamplingSupernet, PathSGD, batchnorms,  # noqa: F401
                                           light_graph_optimization, transfer_weights)

keras = tf.keras


class SinglePathSupernet(PathSamplingSupernet):
    """Stem -> 20 choice layers -> head; ``train_step`` trains one uniformly sampled path per step.

    ``candidates[i]`` are layer i's ops; a layer with a single candidate is fixed (the two-stage
    search fixes one part of the network this way). ``frozen_layers`` are not trained at all
    (their weights and BN statistics stay as they are).
    """

    def __init__(self, config: hurricane.HurricaneConfig, candidates: Sequence[Sequence[str]], seed: int = 0,
                 dropout: float = 0.0, frozen_layers: Iterable[int] = (), bn_affine: bool = True,
                 zero_init_residual: bool = False, **kwargs):
        if len(candidates) != hurricane.NUM_LAYERS:
            raise ValueError(f"need candidates for {hurricane.NUM_LAYERS} layers, got {len(candidates)}")
        super().__init__([len(c) for c in candidates], seed=seed, **kwargs)
        self.config = config
        self.candidates = tuple(tuple(c) for c in candidates)
        self.frozen_layers = frozenset(int(i) for i in frozen_layers)
        self.bn_affine = bool(bn_affine)
        self.stem = hurricane_network.Stem(config.stem_channels, name="stem")
        self.choice_layers = [
            ChoiceLayer([mobile_ops.build_op(op, pos.out_channels, pos.stride, name=op) for op in ops],
                        name=hurricane.layer_name(pos.index))
            for ops, pos in zip(self.candidates, config.positions())]
        self.head = hurricane_network.Head(config.head_channels, config.num_classes, dropout, name="head")
        self.build_all()
        self.zero_init_residual = bool(zero_init_residual)
        self._residual_bns = residual_batchnorms(self) if self.zero_init_residual else []
        for bn in self._residual_bns:
            bn.gamma.assign(tf.zeros_like(bn.gamma))

    def build_all(self) -> None:
        """Create every candidate's weights (a single-branch forward would leave the others unbuilt)."""
        res = self.config.resolution
        x = self.stem(tf.zeros([1, res, res, self.config.input_channels]), training=False)
        for layer in self.choice_layers:
            x = layer.build_candidates(x)[0]
        self.head(x, training=False)
        self.built = True

    # --- the core's hooks ------------------------------------------------------------------------------
    @tf.autograph.experimental.do_not_convert
    def forward(self, x, path, training=None, frozen_training=False):
        """Stem, the path's op per layer, head. Plain Python control flow over static structure, so
        autograph is kept out: converting every op's ``call`` took about a third of tracing a step."""
        x = self.stem(x, training=training)
        for i, layer in enumerate(self.choice_layers):
            x = layer(x, path[i], training=frozen_training if i in self.frozen_layers else training)
        return self.head(x, training=training)

    def trainable_path_variables(self) -> list[tf.Variable]:
        """Trainable weights of the stem, the head and every candidate of the layers that are not frozen
        (without BN scales and offsets when the BN is affine-free, except the zero-initialised
        residual BNs of ``zero_init_residual``)."""
        out = list(self.stem.trainable_variables)
        for i, layer in enumerate(self.choice_layers):
            if i not in self.frozen_layers:
                for op in layer.candidates:
                    out += op.trainable_variables
        out += list(self.head.trainable_variables)
        if not self.bn_affine:
            keep = {id(bn) for bn in self._residual_bns}  # zero-initialised scales must learn to grow
            affine = {id(v) for bn in batchnorms(self) if id(bn) not in keep
                      for v in (bn.gamma, bn.beta) if v is not None}
            out = [v for v in out if id(v) not in affine]
        return out

    def option_variables(self) -> list[tuple[tf.Variable, tuple[int, int]]]:
        """(variable, (layer, candidate index)) for every variable of a layer with several candidates."""
        owners = []
        for i, layer in enumerate(self.choice_layers):
            if len(layer.candidates) > 1:
                for j, op in enumerate(layer.candidates):
                    owners += [(v, (i, j)) for v in op.variables]
        return owners

    def path_batchnorms(self, path: np.ndarray) -> list[keras.layers.BatchNormalization]:
        owners = [self.stem] + [layer.candidates[int(j)] for layer, j in zip(self.choice_layers, path)] + [self.head]
        return [bn for owner in owners for bn in batchnorms(owner)]

    # --- op names as paths ----------------------------------------------------------------------------------
    def path_for(self, ops: Sequence[str]) -> np.ndarray:
        """Indices of the named ops (one per layer) in this supernet's candidates."""
        if len(ops) != hurricane.NUM_LAYERS:
            raise ValueError(f"a path names {hurricane.NUM_LAYERS} ops, got {len(ops)}")
        out = []
        for i, (op, cands) in enumerate(zip(ops, self.candidates)):
            if op not in cands:
                raise ValueError(f"layer {i}: op {op!r} is not among this supernet's candidates {list(cands)}")
            out.append(cands.index(op))
        return np.array(out, np.int32)

    def ops_for(self, path: Sequence[int]) -> tuple[str, ...]:
        return tuple(cands[int(i)] for cands, i in zip(self.candidates, path))

    def export_child(self, ops: Sequence[str], dropout: float = 0.0) -> keras.Model:
        """The child network of the path ``ops`` with this supernet's weights (and BN statistics)."""
        path = self.path_for(ops)
        genotype = hurricane.HurricaneGenotype(tuple(ops), self.config.resolution, self.config.width_multiplier)
        child = hurricane_network.build_child(genotype, self.config.num_classes, self.config.input_channels, dropout)
        pairs = [(self.stem, child.get_layer("stem"))]
        pairs += [(layer.candidates[int(j)], child.get_layer(hurricane.layer_name(i)))
                  for i, (layer, j) in enumerate(zip(self.choice_layers, path))]
        transfer_weights(pairs + [(self.head, child.get_layer("head"))])
        return child


def residual_batchnorms(supernet: SinglePathSupernet) -> list[keras.layers.BatchNormalization]:
    """The last BN of every candidate inverted residual with an identity shortcut (its projection's BN)."""
    out = []
    for layer in supernet.choice_layers:
        for op in layer.candidates:
            if isinstance(op, mobile_ops.InvertedResidual) and op.residual:
                out += [bn for bn in batchnorms(op) if bn.name == "bn_project"]
    return out
