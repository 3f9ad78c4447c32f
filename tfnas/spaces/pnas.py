"""PNAS block-cell space (Liu et al., ECCV 2018): cells of B blocks, progressive expansion, child network.

A block reads two inputs, applies one op to each, and adds the results. Inputs of block b
(1-based) are the two previous cells' outputs and the outputs of blocks 1..b-1, so block b has
b + 1 input choices and (b+1)^2 * 8^2 (input1, op1, input2, op2) choices. Inputs are numbered
as in the DARTS genotype: 0 = the cell two back (h_{c-2}), 1 = the previous cell (h_{c-1}),
2 + j = block j (0-based).

Symmetry: a block is a sum, so (in1, op1, in2, op2) and (in2, op2, in1, op1) are the same
block. ``block_choices(b)`` lists all (b+1)^2 * 8^2 ordered choices (the paper's count);
``block_choices(b, unique=True)`` keeps one of each symmetric pair, P(P+1)/2 with P = 8(b+1)
(136 at b = 1, the number of 1-block cells PNAS trains; 300, 528, 820, 1176 at b = 2..5).
Genotypes are stored canonically (the smaller (input, op) pair first), so equal cells compare
equal.

The child network (``build_network``) is the paper's CIFAR layout: a 3x3 conv stem, then N
cells, a reduction cell, N cells, a reduction cell, N cells (one cell structure for all; in a
reduction cell the ops that read the cell inputs use stride 2 and the filters double), global
average pooling and a softmax classifier. A cell's output concatenates the outputs of all B
blocks by default, as the authors' released PNASNet-5 does (slim's pnasnet.py marks only the
two cell inputs as used hidden states, so every block, including one another block reads, is
concatenated); ``cell_output="unused_blocks"`` concatenates only the blocks no other block reads,
NASNet's rule.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Any, ClassVar, Sequence

import numpy as np

from tfnas.spaces.base import GenotypeError, register_genotype

SPACE = "pnas"
VERSION = 1
OPS: tuple[str, ...] = (
    "identity", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7", "conv_1x7_7x1", "dil_conv_3x3",
    "max_pool_3x3", "avg_pool_3x3",
)
"""The paper's 8 operations."""
NUM_CELL_INPUTS = 2
DEFAULT_MAX_BLOCKS = 5  # the paper's B
CELL_OUTPUTS = ("all_blocks", "unused_blocks")
"""What a cell concatenates: every block (PNASNet-5 as released, the default) or only the blocks no
other block reads (NASNet's rule)."""

Block = tuple[int, str, int, str]


def canonical_block(block: Sequence[Any]) -> Block:
    """(in1, op1, in2, op2) with the smaller (input, op index) pair first: one form per symmetric pair."""
    in1, op1, in2, op2 = int(block[0]), str(block[1]), int(block[2]), str(block[3])
    if (in2, OPS.index(op2)) < (in1, OPS.index(op1)):
        in1, op1, in2, op2 = in2, op2, in1, op1
    return in1, op1, in2, op2


def _check_block(block: Sequence[Any], position: int, ops: Sequence[str]) -> Block:
    if not isinstance(block, (list, tuple)) or len(block) != 4:
        raise GenotypeError(f"block {position} must be [input1, op1, input2, op2], got {block!r}")
    in1, op1, in2, op2 = block
    for op in (op1, op2):
        if op not in ops:
            raise GenotypeError(f"unknown PNAS op {op!r} in block {position}; valid ops: {list(ops)}")
    num_inputs = NUM_CELL_INPUTS + position
    for src in (in1, in2):
        if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= int(src) < num_inputs:
            raise GenotypeError(f"block {position} cannot read input {src!r}: valid inputs are 0..{num_inputs - 1} "
                                "(0 = cell c-2, 1 = cell c-1, 2+j = block j)")
    return canonical_block(block)


@dataclasses.dataclass(frozen=True)
class PnasGenotype:
    """A PNAS cell: a tuple of blocks (input1, op1, input2, op2), stored canonically."""

    blocks: tuple[Block, ...]
    SPACE: ClassVar[str] = SPACE
    VERSION: ClassVar[int] = VERSION

    def __post_init__(self):
        if not isinstance(self.blocks, (list, tuple)) or not self.blocks:
            raise GenotypeError(f"a PNAS cell needs at least one block, got {self.blocks!r}")
        blocks = tuple(_check_block(b, i, OPS) for i, b in enumerate(self.blocks))
        object.__setattr__(self, "blocks", blocks)

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def unused_blocks(self) -> list[int]:
        """Blocks no later block reads (the cell output under NASNet's rule, ``cell_output="unused_blocks"``)."""
        used = {src - NUM_CELL_INPUTS for b in self.blocks for src in (b[0], b[2]) if src >= NUM_CELL_INPUTS}
        return [j for j in range(self.num_blocks) if j not in used]

    def output_blocks(self, cell_output: str = "all_blocks") -> list[int]:
        """The blocks whose outputs are concatenated into the cell output (``CELL_OUTPUTS``)."""
        if cell_output == "all_blocks":
            return list(range(self.num_blocks))
        if cell_output == "unused_blocks":
            return self.unused_blocks()
        raise GenotypeError(f"unknown PNAS cell output {cell_output!r}; valid: {list(CELL_OUTPUTS)}")

    def expand(self, unique: bool = True) -> list["PnasGenotype"]:
        """Every cell with one more block (PNAS' expansion step)."""
        return [PnasGenotype(self.blocks + (b,)) for b in block_choices(self.num_blocks + 1, unique)]

    # --- (de)serialisation -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"space": SPACE, "version": VERSION, "blocks": [list(b) for b in self.blocks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PnasGenotype":
        if int(data.get("version", VERSION)) != VERSION:
            raise GenotypeError(f"unsupported pnas genotype version {data.get('version')}; this tfnas reads {VERSION}")
        if "blocks" not in data:
            raise GenotypeError("a pnas genotype needs 'blocks': [[input1, op1, input2, op2], ...]")
        return cls(tuple(tuple(b) if isinstance(b, list) else b for b in data["blocks"]))

    def to_arch(self) -> dict[str, Any]:
        """The searcher-facing architecture dict ({"blocks": [[in1, op1, in2, op2], ...]})."""
        return {"blocks": [list(b) for b in self.blocks]}

    @classmethod
    def from_arch(cls, arch: dict[str, Any]) -> "PnasGenotype":
        if not isinstance(arch, dict) or "blocks" not in arch:
            raise GenotypeError(f"a PNAS architecture is {{'blocks': [[in1, op1, in2, op2], ...]}}, got {arch!r}")
        return cls(tuple(tuple(b) for b in arch["blocks"]))

    def key(self) -> str:
        return ";".join(f"{a},{o1},{b},{o2}" for a, o1, b, o2 in self.blocks)

    def __str__(self) -> str:
        return self.key()


register_genotype(SPACE, PnasGenotype.from_json)


def num_block_choices(b: int, unique: bool = False) -> int:
    """(b+1)^2 * 8^2 ordered choices for block b (1-based); P(P+1)/2, P = 8(b+1), without symmetric twins."""
    pairs = (b + 1) * len(OPS)
    return pairs * pairs if not unique else pairs * (pairs + 1) // 2


def block_choices(b: int, unique: bool = False) -> list[Block]:
    """All (input1, op1, input2, op2) choices for block b (1-based), optionally without symmetric twins."""
    if b < 1:
        raise ValueError(f"blocks are numbered from 1, got {b}")
    pairs = [(i, op) for i in range(b + 1) for op in OPS]
    if unique:
        return [(p[0], p[1], q[0], q[1]) for k, p in enumerate(pairs) for q in pairs[k:]]
    return [(p[0], p[1], q[0], q[1]) for p, q in itertools.product(pairs, pairs)]


def all_one_block_cells() -> list[PnasGenotype]:
    """The 136 distinct 1-block cells PNAS trains first."""
    return [PnasGenotype((b,)) for b in block_choices(1, unique=True)]


# --- a fixed number of blocks as a categorical space (random search / evolution in this space) ---------

BLOCK_FIELDS = ("input1", "op1", "input2", "op2")


def fixed_size_space(num_blocks: int = DEFAULT_MAX_BLOCKS):
    """Cells of exactly ``num_blocks`` blocks as a CategoricalSpace (choice ``block<j>_<field>``).

    Progressive PNAS grows cells block by block; random search and evolution instead search
    this flat space, so all three can run on the same child networks and evaluator.
    """
    from tfnas.spaces.choices import CategoricalSpace, Choice

    choices = []
    for j in range(num_blocks):
        inputs = tuple(range(NUM_CELL_INPUTS + j))
        choices += [Choice(f"block{j}_input1", inputs), Choice(f"block{j}_op1", OPS),
                    Choice(f"block{j}_input2", inputs), Choice(f"block{j}_op2", OPS)]
    return CategoricalSpace(choices)


def genotype_from_choices(arch: dict[str, Any]) -> PnasGenotype:
    """The genotype of a ``fixed_size_space`` architecture."""
    num_blocks = len(arch) // 4
    try:
        return PnasGenotype(tuple(tuple(arch[f"block{j}_{f}"] for f in BLOCK_FIELDS) for j in range(num_blocks)))
    except KeyError as e:
        raise GenotypeError(f"not a PNAS fixed-size architecture: missing choice {e}") from None


def to_genotype(arch: dict[str, Any]) -> PnasGenotype:
    """A genotype from either architecture form ({"blocks": ...} or ``fixed_size_space`` choices)."""
    return PnasGenotype.from_arch(arch) if "blocks" in arch else genotype_from_choices(arch)


# --- tokens for the predictors -------------------------------------------------------------------------

class PnasTokens:
    """Token sequence of a cell for the PNAS predictors: per block (input1, op1, input2, op2).

    Inputs and ops get disjoint id ranges of one vocabulary (the paper's two shared embeddings:
    one for input tokens, one for op tokens); cells shorter than ``max_blocks`` are zero-padded.
    """

    group_size = 4

    def __init__(self, max_blocks: int = DEFAULT_MAX_BLOCKS):
        self.max_blocks = max_blocks
        self.num_inputs = NUM_CELL_INPUTS + max_blocks - 1
        self.vocab_size = 1 + self.num_inputs + len(OPS)
        self.max_len = 4 * max_blocks
        self._op_id = {op: 1 + self.num_inputs + i for i, op in enumerate(OPS)}

    def encode(self, archs: Sequence[Any]) -> np.ndarray:
        out = np.zeros((len(archs), self.max_len), np.int32)
        for row, arch in enumerate(archs):
            if isinstance(arch, PnasGenotype):
                blocks = arch.blocks
            else:  # searcher architectures are validated when made; only the choice form needs converting
                blocks = arch["blocks"] if "blocks" in arch else genotype_from_choices(arch).blocks
            if len(blocks) > self.max_blocks:
                raise ValueError(f"cell has {len(blocks)} blocks, the predictor handles at most {self.max_blocks}")
            for j, (in1, op1, in2, op2) in enumerate(blocks):
                out[row, 4 * j: 4 * j + 4] = (1 + int(in1), self._op_id[op1], 1 + int(in2), self._op_id[op2])
        return out


# --- the Keras child network -----------------------------------------------------------------------------

def _op_layer(op: str, filters: int, stride: int):
    import tensorflow as tf
    from tfnas.ops import cell_ops

    keras = tf.keras
    if op == "identity":
        return cell_ops.Identity() if stride == 1 else cell_ops.FactorizedReduce(filters)
    if op.startswith("sep_conv_"):
        return cell_ops.SepConv(filters, int(op[-1]), stride)
    if op == "dil_conv_3x3":
        return cell_ops.DilConv(filters, 3, stride, 2)
    if op == "conv_1x7_7x1":
        return keras.Sequential([
            keras.layers.ReLU(),
            keras.layers.Conv2D(filters, (1, 7), (1, stride), padding="same", use_bias=False),
            keras.layers.Conv2D(filters, (7, 1), (stride, 1), padding="same", use_bias=False),
            cell_ops.batch_norm(True),
        ])
    if op in ("max_pool_3x3", "avg_pool_3x3"):
        return cell_ops.Pool(op[:3], stride)
    raise GenotypeError(f"unknown PNAS op {op!r}; valid ops: {list(OPS)}")


def _cell(genotype: PnasGenotype, s0, s1, filters: int, reduction: bool, reduction_prev: bool,
          cell_output: str = "all_blocks"):
    """One cell on Keras tensors s0 = h_{c-2}, s1 = h_{c-1}; returns its output tensor (the
    concatenation of ``genotype.output_blocks(cell_output)``)."""
    import tensorflow as tf
    from tfnas.ops import cell_ops

    keras = tf.keras
    # Bring both inputs to `filters` channels at s1's resolution (h_{c-2} is twice as large
    # after a reduction cell, so it is factorised-reduced, as in NASNet/DARTS).
    s0 = (cell_ops.FactorizedReduce(filters) if reduction_prev else cell_ops.ReLUConvBN(filters, 1))(s0)
    s1 = cell_ops.ReLUConvBN(filters, 1)(s1)
    states = [s0, s1]
    for in1, op1, in2, op2 in genotype.blocks:
        branches = []
        for src, op in ((in1, op1), (in2, op2)):
            stride = 2 if reduction and src < NUM_CELL_INPUTS else 1
            branches.append(_op_layer(op, filters, stride)(states[src]))
        # A block of a reduction cell that reads only earlier blocks is already at half size;
        # one that mixes cell inputs and blocks sees both at half size, so the add is well-formed.
        states.append(keras.layers.Add()(branches))
    outputs = [states[NUM_CELL_INPUTS + j] for j in genotype.output_blocks(cell_output)]
    return outputs[0] if len(outputs) == 1 else keras.layers.Concatenate()(outputs)


def build_network(genotype: PnasGenotype, num_classes: int, input_shape: Sequence[int], cells_per_stage: int = 2,
                  filters: int = 24, num_reductions: int = 2, stem_multiplier: int = 3, name: str = "pnas_network",
                  cell_output: str = "all_blocks"):
    """The PNAS CIFAR child network: stem, (N cells, reduction cell) x num_reductions, N cells, classifier.

    ``cells_per_stage`` is the paper's N and ``filters`` its F (N=2, F=24 while searching).
    ``cell_output``: "all_blocks" (PNASNet-5: every block is concatenated) or "unused_blocks"
    (NASNet's rule: only blocks no other block reads).
    """
    import tensorflow as tf
    from tfnas.ops import cell_ops

    keras = tf.keras
    if cells_per_stage < 1 or filters < 2 or filters % 2:
        raise ValueError(f"need cells_per_stage >= 1 and an even filters >= 2, got N={cells_per_stage}, F={filters}")
    genotype.output_blocks(cell_output)  # an unknown rule is a clear error before anything is built
    inputs = keras.Input(tuple(input_shape), name="image")
    x = keras.layers.Conv2D(stem_multiplier * filters, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = cell_ops.batch_norm(True, name="stem_bn")(x)
    s0 = s1 = x
    channels, reduction_prev = filters, False
    for stage in range(num_reductions + 1):
        for _ in range(cells_per_stage):
            s0, s1 = s1, _cell(genotype, s0, s1, channels, False, reduction_prev, cell_output)
            reduction_prev = False
        if stage < num_reductions:
            channels *= 2
            s0, s1 = s1, _cell(genotype, s0, s1, channels, True, reduction_prev, cell_output)
            reduction_prev = True
    x = keras.layers.ReLU()(s1)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, name="classifier")(x)
    return keras.Model(inputs, outputs, name=name)
