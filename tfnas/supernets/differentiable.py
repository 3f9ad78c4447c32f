"""Differentiable supernets: Keras models whose architecture is a set of trainable variables.

Each cell type (DARTS: normal and reduce; NAS-Bench-201: one) has an architecture variable
alpha of shape [num_edges, num_ops]. The op weights are softmax(alpha / T) (DARTS) or
sigmoid(alpha) (the first version of Single-DARTS); T is a non-trainable variable so schedules
(BATS) can change it during training. Architecture variables are kept apart from the network
weights (``arch_variables`` / ``weight_variables``) so methods give them separate optimizers and
weight decay never touches them by accident.

A method (tfnas/methods/) wraps a supernet in a keras.Model whose train_step is the method.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfnas.errors import ConfigError
from tfnas.ops.cell_ops import FactorizedReduce, ReLUConvBN, batch_norm
from tfnas.spaces import darts as darts_space
from tfnas.spaces import nasbench201 as nb201_space
from tfnas.supernets.mixed_cell import MixedCell

keras = tf.keras

ARCH_ACTIVATIONS = ("softmax", "sigmoid")


class DifferentiableSupernet(keras.Model):
    """Base class: architecture variables, op weights, genotype derivation.

    Subclasses set ``self.ops`` and ``self.cell_types`` (names of the alpha variables) before
    calling ``_create_alphas`` and implement ``call`` and ``genotype``.
    """

    space: str = ""

    def __init__(self, ops: Sequence[str], cell_types: Sequence[str], num_edges: int,
                 arch_activation: str = "softmax", temperature: float = 1.0, alpha_init_std: float = 1e-3,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if arch_activation not in ARCH_ACTIVATIONS:
            raise ValueError(f"arch_activation must be one of {ARCH_ACTIVATIONS}, got {arch_activation!r}")
        self.ops = tuple(ops)
        self.cell_types = tuple(cell_types)
        self.num_edges = num_edges
        self.arch_activation = arch_activation
        self.temperature = tf.Variable(float(temperature), trainable=False, name="temperature")
        self.alphas = {}
        for i, name in enumerate(self.cell_types):
            init = keras.initializers.RandomNormal(stddev=alpha_init_std, seed=seed * 101 + i)
            self.alphas[name] = self.add_weight(f"alpha_{name}", shape=(num_edges, len(self.ops)),
                                                initializer=init, trainable=True, dtype=tf.float32,
                                                experimental_autocast=False)  # float32 under mixed precision

    # --- variables ---------------------------------------------------------------------------
    @property
    def arch_variables(self) -> list[tf.Variable]:
        return [self.alphas[name] for name in self.cell_types]

    @property
    def weight_variables(self) -> list[tf.Variable]:
        arch = {id(v) for v in self.arch_variables}
        return [v for v in self.trainable_variables if id(v) not in arch]

    # --- op weights --------------------------------------------------------------------------
    def op_weights(self) -> dict[str, tf.Tensor]:
        """Op weights per cell type, as used in the forward pass."""
        out = {}
        for name, alpha in self.alphas.items():
            if self.arch_activation == "softmax":
                out[name] = tf.nn.softmax(alpha / self.temperature, axis=-1)
            else:
                out[name] = tf.sigmoid(alpha)
        return out

    def op_weights_numpy(self) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in self.op_weights().items()}

    def op_probabilities(self) -> dict[str, np.ndarray]:
        """Per-edge distributions (softmax of alpha at the current temperature) for entropy summaries.

        For sigmoid weights this normalises them per edge, which is what derivation compares.
        """
        out = {}
        for k, w in self.op_weights_numpy().items():
            out[k] = w / np.maximum(w.sum(axis=-1, keepdims=True), 1e-12)
        return out

    def genotype(self):
        raise NotImplementedError

    def architecture_state(self) -> dict[str, Any]:
        """JSON-friendly record of alphas and op weights (search_summary.json)."""
        return {
            "ops": list(self.ops),
            "arch_activation": self.arch_activation,
            "temperature": float(self.temperature.numpy()),
            "alphas": {k: v.numpy().tolist() for k, v in self.alphas.items()},
            "op_weights": {k: v.tolist() for k, v in self.op_weights_numpy().items()},
        }


Preprocess = Callable[[int, int, tuple, tuple, bool], tuple]
"""preprocess(i, c_curr, shape0, shape1, reduction_prev) -> (pre0, pre1): cell i's input layers."""


def search_preprocess(i: int, c_curr: int, shape0: tuple, shape1: tuple, reduction_prev: bool) -> tuple:
    """DARTS' search-network cell inputs (a ``Preprocess``): affine-free ReLU-conv1x1-BN, or
    FactorizedReduce for the input that skips a reduction."""
    pre0 = FactorizedReduce(c_curr, affine=False, name=f"cell{i}_pre0") if reduction_prev else \
        ReLUConvBN(c_curr, 1, 1, affine=False, name=f"cell{i}_pre0")
    return pre0, ReLUConvBN(c_curr, 1, 1, affine=False, name=f"cell{i}_pre1")


class DartsLayoutMixin:
    """DARTS' search-network layout, shared by every supernet over DARTS cells (DARTS, BATS, MANAS).

    Stem conv -> BN (3C channels), ``layers`` cells with reductions at layers//3 and 2*layers//3
    (channels doubled), each cell's two inputs preprocessed, global pool, classifier. The cell is
    a parameter: ``MixedCell`` (every op on every edge, weighted) for differentiable search, a
    sampled cell (one op per edge) for MANAS. A cell is called as ``cell(states, arch)``, where
    ``arch`` comes from ``cell_architecture``: by default the op weights of the cell's type.
    """

    def _build_darts_layout(self, num_classes: int, init_channels: int, layers: int, stem_multiplier: int,
                            preprocess: Preprocess, cell_class: type = MixedCell, **cell_kwargs) -> None:
        c_curr = stem_multiplier * init_channels
        self.stem_conv = keras.layers.Conv2D(c_curr, 3, padding="same", use_bias=False, name="stem_conv")
        self.stem_bn = batch_norm(True, name="stem_bn")
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, init_channels
        self.cells, self.preprocess = [], []
        self.reductions = [layers // 3, 2 * layers // 3]
        reduction_prev = False
        for i in range(layers):
            reduction = i in self.reductions
            if reduction:
                c_curr *= 2
            self.preprocess.append(preprocess(i, c_curr, (None, None, c_prev_prev), (None, None, c_prev),
                                              reduction_prev))
            self.cells.append(cell_class(self.ops, c_curr, darts_space.NUM_INPUTS, darts_space.NUM_NODES,
                                         reduction=reduction, pool_bn=True, output="concat", name=f"cell{i}",
                                         **cell_kwargs))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, darts_space.NUM_NODES * c_curr
        self.global_pool = keras.layers.GlobalAveragePooling2D()
        self.classifier = keras.layers.Dense(num_classes, name="classifier")

    def layout_architecture(self) -> Any:
        """What the cells read their architecture from, computed once per forward pass (op weights)."""
        return self.op_weights()

    def cell_architecture(self, architecture: Any, index: int) -> Any:
        """Cell ``index``'s share of ``architecture``: the op weights of its type (normal or reduce)."""
        return architecture["reduce"] if index in self.reductions else architecture["normal"]

    def _darts_layout_forward(self, s0, s1, training=None, architecture: Any = None):
        """The cells and the classifier, from the two stem outputs (``architecture``: what
        ``layout_architecture()`` gives unless the caller passes it, e.g. a sampled path)."""
        if architecture is None:
            architecture = self.layout_architecture()
        for i in range(len(self.cells)):
            s0, s1 = s1, self.cell_forward(i, s0, s1, self.cell_architecture(architecture, i), training)
        return self.classifier(self.global_pool(s1))

    def cell_forward(self, index: int, s0, s1, architecture, training=None):
        """Cell ``index`` on the two previous states: its inputs' preprocessing, then the cell (a
        subclass may wrap both, e.g. to recompute them in the backward pass)."""
        pre0, pre1 = self.preprocess[index]
        inputs = [pre0(s0, training=training), pre1(s1, training=training)]
        return self.cells[index](inputs, architecture, training=training)


class DartsSupernet(DartsLayoutMixin, DifferentiableSupernet):
    """DARTS search network (model_search.Network): stem, ``layers`` mixed cells, classifier.

    Reductions at layers//3 and 2*layers//3 double the channels; BN is affine-free inside cells.
    """

    space = darts_space.SPACE

    def __init__(self, num_classes: int, init_channels: int = 16, layers: int = 8, stem_multiplier: int = 3,
                 ops: Sequence[str] = darts_space.OPS, arch_activation: str = "softmax", temperature: float = 1.0,
                 seed: int = 0, checkpoint: bool = True, **kwargs):
        super().__init__(ops, ("normal", "reduce"), darts_space.NUM_EDGES, arch_activation, temperature,
                         seed=seed, **kwargs)
        if layers < 3:
            raise ConfigError(f"a DARTS network needs at least 3 cells (two are reductions), got --layers={layers}")
        self.num_classes, self.init_channels, self.num_layers = num_classes, init_channels, layers

        self._build_darts_layout(num_classes, init_channels, layers, stem_multiplier, search_preprocess,
                                 checkpoint=checkpoint)

    def call(self, x, training=None):
        s = self.stem_bn(self.stem_conv(x), training=training)
        return self._darts_layout_forward(s, s, training)

    def genotype(self) -> darts_space.DartsGenotype:
        w = self.op_weights_numpy()
        return darts_space.derive_genotype(w["normal"], w["reduce"])


class NasBench201Supernet(DifferentiableSupernet):
    """NAS-Bench-201 search network: stem, 3 stages of N mixed cells, ResNet reduction blocks."""

    space = nb201_space.SPACE

    def __init__(self, num_classes: int, init_channels: int = 16, layers: int = 5,
                 ops: Sequence[str] = nb201_space.OPS, arch_activation: str = "softmax", temperature: float = 1.0,
                 seed: int = 0, checkpoint: bool = False, **kwargs):
        super().__init__(ops, ("cell",), nb201_space.NUM_EDGES, arch_activation, temperature, seed=seed, **kwargs)
        from tfnas.spaces.nasbench201_network import ResNetBasicBlock  # avoid an import cycle at module load

        self.num_classes, self.init_channels, self.num_layers = num_classes, init_channels, layers
        c = init_channels
        self.stem_conv = keras.layers.Conv2D(c, 3, padding="same", use_bias=False, name="stem_conv")
        self.stem_bn = batch_norm(True, name="stem_bn")
        self.blocks = []
        for stage in range(3):
            if stage > 0:
                c *= 2
                self.blocks.append(ResNetBasicBlock(c, 2, name=f"resblock{stage}"))
            for i in range(layers):
                self.blocks.append(MixedCell(self.ops, c, 1, nb201_space.NUM_NODES - 1, pool_bn=False, checkpoint=checkpoint,
                                             output="last", name=f"stage{stage}_cell{i}"))
        self.last_bn = batch_norm(True, name="last_bn")
        self.global_pool = keras.layers.GlobalAveragePooling2D()
        self.classifier = keras.layers.Dense(num_classes, name="classifier")

    def call(self, x, training=None):
        w = self.op_weights()["cell"]
        x = self.stem_bn(self.stem_conv(x), training=training)
        for block in self.blocks:
            x = block([x], w, training=training) if isinstance(block, MixedCell) else block(x, training=training)
        x = tf.nn.relu(self.last_bn(x, training=training))
        return self.classifier(self.global_pool(x))

    def genotype(self) -> nb201_space.NasBench201Genotype:
        return nb201_space.derive_genotype(self.op_weights_numpy()["cell"])


SUPERNETS = {"darts": DartsSupernet, "nasbench201": NasBench201Supernet}


def build_supernet(space: str, num_classes: int, **kwargs) -> DifferentiableSupernet:
    """Build the differentiable supernet of ``space`` (darts | nasbench201)."""
    if space not in SUPERNETS:
        raise ValueError(f"unknown space {space!r} for differentiable search; choose one of {sorted(SUPERNETS)}")
    return SUPERNETS[space](num_classes=num_classes, **kwargs)
