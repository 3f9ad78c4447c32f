"""The ViTAS vision-transformer space: patch size, embedding width, and per block slot identity or a block.

Declared once (Su et al., "Vision Transformer Architecture Search", 2021; code xiusu/ViTAS):

* ``patch_size``: one of the config's patch sizes; each has its own patch embedding, position
  embedding and class token in the super-transformer;
* ``embed_dim``: ``max_embed_dim x ratio``, one width for the whole residual stream;
* per block slot ``blockNN_heads``: ``"identity"`` (the slot is skipped: depth comes from identity
  slots) or a number of heads, and, only when the slot is a block (conditional choices),
  ``blockNN_attention_dim`` (``max_attention_dim x ratio``: the q/k/v width) and
  ``blockNN_mlp_dim`` (``max_mlp_dim x ratio``).

An architecture is a dict {choice: option} (``ViTSpace.categorical`` is its ``CategoricalSpace``);
a genotype is the network it describes, ``{"space": "vit", "version": 1, "image_size", "patch_size",
"embed_dim", "blocks": [null | {"heads", "attention_dim", "mlp_dim"}, ...]}`` with one entry per
slot (null = identity), so the slot a block came from is kept for weight inheritance.

FLOPs are multiply-accumulates (MACs) in millions, the convention ViT papers (and ViTAS' window
"[0.9G, 1.0G]") call FLOPs: the patch-embedding conv, q/k/v, the two attention matmuls
(``2 T^2 a``), the output projection, the MLP and the classifier on the class token. They equal
TensorFlow's profiler count of the child's MatMul / BatchMatMul / Conv2D ops (halved); LayerNorm,
softmax, GELU, bias and residual additions are not counted (the profiler's total is ~6% higher at
the 28x28 CPU config's widths).
``tune_identity_probability`` is ViTAS' budget tuning of the identity probability to a FLOPs window.

This module imports no TensorFlow.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from tfnas.errors import UserInputError
from tfnas.spaces.base import GenotypeError, register_genotype
from tfnas.spaces.choices import Architecture, CategoricalSpace, Choice, Condition, Constraint, SearchSpaceError

SPACE = "vit"
VERSION = 1
IDENTITY = "identity"


class ViTSpaceError(SearchSpaceError):
    """A ViT space configuration that cannot work (a patch size that does not divide the image...)."""


class FlopsWindowError(UserInputError):
    """A FLOPs window the space cannot reach (no subnet in it, or no identity probability puts the mean in it)."""


# --- the space's geometry ------------------------------------------------------------------------------------
def _dims(maximum: int, ratios: Sequence[float]) -> tuple[int, ...]:
    return tuple(int(round(maximum * r)) for r in ratios)


@dataclasses.dataclass(frozen=True)
class ViTSpaceConfig:
    """The super-transformer's geometry: what every choice may take."""

    name: str
    image_size: int
    patch_sizes: tuple[int, ...]
    max_embed_dim: int
    embed_ratios: tuple[float, ...]
    num_slots: int
    head_options: tuple[int, ...]
    max_attention_dim: int
    attention_ratios: tuple[float, ...]
    max_mlp_dim: int
    mlp_ratios: tuple[float, ...]

    def __post_init__(self):
        for name in ("patch_sizes", "embed_ratios", "head_options", "attention_ratios", "mlp_ratios"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        bad = [p for p in self.patch_sizes if p <= 0 or self.image_size % p]
        if bad:
            divisors = [d for d in range(2, self.image_size + 1) if self.image_size % d == 0]
            raise ViTSpaceError(f"patch size(s) {bad} do not divide the image size {self.image_size}: patches must tile "
                                f"the image; use --patch_sizes from {divisors} or another --image_size")
        if self.num_slots < 1 or not self.patch_sizes or not self.head_options:
            raise ViTSpaceError(f"space config {self.name!r} needs patch sizes, head options and at least one block slot")
        for label, dims in (("embed", self.embed_dims), ("attention", self.attention_dims), ("mlp", self.mlp_dims)):
            if min(dims) < 1 or len(set(dims)) != len(dims):
                raise ViTSpaceError(f"space config {self.name!r}: {label} widths {list(dims)} must be distinct and >= 1")
        for a in self.attention_dims:
            bad_heads = [h for h in self.head_options if a % h]
            if bad_heads:
                raise ViTSpaceError(f"space config {self.name!r}: attention width {a} is not divisible by "
                                    f"{bad_heads} heads; choose a max attention width and ratios giving multiples of "
                                    f"{int(np.lcm.reduce(list(self.head_options)))}")

    @property
    def embed_dims(self) -> tuple[int, ...]:
        return _dims(self.max_embed_dim, self.embed_ratios)

    @property
    def attention_dims(self) -> tuple[int, ...]:
        return _dims(self.max_attention_dim, self.attention_ratios)

    @property
    def mlp_dims(self) -> tuple[int, ...]:
        return _dims(self.max_mlp_dim, self.mlp_ratios)

    def replace(self, **overrides: Any) -> "ViTSpaceConfig":
        """The config with some fields overridden (None values ignored); validated again."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **overrides) if overrides else self

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_TENTHS = tuple(round(0.1 * i, 1) for i in range(1, 11))
_QUARTERS = (0.25, 0.5, 0.75, 1.0)

SPACE_CONFIGS: dict[str, ViTSpaceConfig] = {
    # Runs on a 2-core CPU on the embedded 28x28 data: 3 patch sizes, widths up to 64 (MLP 128), 6 slots.
    "cpu_28": ViTSpaceConfig("cpu_28", 28, (4, 7, 14), 64, _QUARTERS, 6, (1, 2, 4), 64, _QUARTERS, 128, _QUARTERS),
    # The paper's 1G search space (config/search/vit_tiny_search_1G_search.yaml of xiusu/ViTAS): 224x224,
    # patches {14, 16, 32}, embed 384 x {0.1..1.0}, 16 slots of {3, 6, 12, 16} heads, q/k/v width 480 x ratio,
    # MLP 1440 x ratio.
    "vitas_1g": ViTSpaceConfig("vitas_1g", 224, (14, 16, 32), 384, _TENTHS, 16, (3, 6, 12, 16), 480, _TENTHS, 1440,
                               _TENTHS),
}
DEFAULT_CONFIG = "cpu_28"


def space_config(name: str = DEFAULT_CONFIG, **overrides: Any) -> ViTSpaceConfig:
    """A named space configuration (``--space_config``), optionally with fields overridden."""
    if name not in SPACE_CONFIGS:
        raise ViTSpaceError(f"unknown --space_config={name!r}; known: {sorted(SPACE_CONFIGS)}")
    return SPACE_CONFIGS[name].replace(**overrides)


# --- FLOPs and parameters --------------------------------------------------------------------------------------
def num_tokens(image_size: int, patch_size):
    """Patches plus the class token."""
    return (image_size // patch_size) ** 2 + 1


def block_macs(tokens, dim, attention_dim, mlp_dim):
    """q, k, v and output projection (4 T d a), QK^T and AV (2 T^2 a), the MLP (2 T d m). Works on arrays."""
    return 4 * tokens * dim * attention_dim + 2 * tokens ** 2 * attention_dim + 2 * tokens * dim * mlp_dim


def embedding_macs(image_size: int, input_channels: int, dim):
    """The patch-embedding conv: (S/P)^2 patches x P^2 C x d = S^2 C d, whatever the patch size."""
    return image_size ** 2 * input_channels * dim


def block_params(dim: int, attention_dim: int, mlp_dim: int) -> int:
    d, a, m = dim, attention_dim, mlp_dim
    return 4 * d + 3 * (d * a + a) + (a * d + d) + (d * m + m) + (m * d + d)


# --- the genotype ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One non-identity block: heads, q/k/v width, MLP width."""

    heads: int
    attention_dim: int
    mlp_dim: int

    def __post_init__(self):
        if min(self.heads, self.attention_dim, self.mlp_dim) < 1:
            raise GenotypeError(f"block sizes must be positive, got {self}")
        if self.attention_dim % self.heads:
            raise GenotypeError(f"attention_dim {self.attention_dim} is not divisible by {self.heads} heads")

    def to_json(self) -> dict[str, int]:
        return {"heads": self.heads, "attention_dim": self.attention_dim, "mlp_dim": self.mlp_dim}


@dataclasses.dataclass(frozen=True)
class ViTGenotype:
    """A vision transformer: patch size, width, and one entry per block slot (None = identity)."""

    image_size: int
    patch_size: int
    embed_dim: int
    blocks: tuple[BlockSpec | None, ...]
    SPACE: ClassVar[str] = SPACE
    VERSION: ClassVar[int] = VERSION

    def __post_init__(self):
        object.__setattr__(self, "blocks", tuple(self.blocks))
        if self.patch_size <= 0 or self.image_size % self.patch_size:
            divisors = [d for d in range(1, self.image_size + 1) if self.image_size % d == 0]
            raise GenotypeError(f"patch_size {self.patch_size} does not divide image_size {self.image_size}; a ViT "
                                f"genotype's patches must tile the image (patch sizes of {self.image_size}: {divisors})")
        if self.embed_dim < 1 or not self.blocks:
            raise GenotypeError("a ViT genotype needs embed_dim >= 1 and at least one block slot")

    @property
    def depth(self) -> int:
        return sum(b is not None for b in self.blocks)

    @property
    def num_tokens(self) -> int:
        return num_tokens(self.image_size, self.patch_size)

    def mflops(self, input_channels: int = 3, num_classes: int = 1000) -> float:
        """Multiply-accumulates of one image, in millions (what ViT papers call FLOPs)."""
        t, d = self.num_tokens, self.embed_dim
        macs = embedding_macs(self.image_size, input_channels, d) + d * num_classes
        macs += sum(block_macs(t, d, b.attention_dim, b.mlp_dim) for b in self.blocks if b is not None)
        return macs / 1e6

    def params(self, input_channels: int = 3, num_classes: int = 1000) -> int:
        """Trainable parameters of the child network."""
        p, d = self.patch_size, self.embed_dim
        total = p * p * input_channels * d + d + d + self.num_tokens * d  # conv, bias, class token, position
        total += sum(block_params(d, b.attention_dim, b.mlp_dim) for b in self.blocks if b is not None)
        return total + 2 * d + d * num_classes + num_classes

    def to_json(self) -> dict[str, Any]:
        return {"space": SPACE, "version": VERSION, "image_size": self.image_size, "patch_size": self.patch_size,
                "embed_dim": self.embed_dim, "blocks": [None if b is None else b.to_json() for b in self.blocks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ViTGenotype":
        if int(data.get("version", VERSION)) != VERSION:
            raise GenotypeError(f"unsupported vit genotype version {data.get('version')}; this tfnas reads {VERSION}")
        blocks = tuple(None if b is None else BlockSpec(int(b["heads"]), int(b["attention_dim"]), int(b["mlp_dim"]))
                       for b in data["blocks"])
        return cls(int(data["image_size"]), int(data["patch_size"]), int(data["embed_dim"]), blocks)

    def __str__(self) -> str:
        blocks = " ".join("id" if b is None else f"{b.heads}h/{b.attention_dim}/{b.mlp_dim}" for b in self.blocks)
        return f"vit@{self.image_size}px p{self.patch_size} d{self.embed_dim}: {blocks}"


register_genotype(SPACE, ViTGenotype.from_json)


# --- the space as choices --------------------------------------------------------------------------------------
def slot_name(slot: int) -> str:
    """The name of block slot ``slot`` (choice prefixes, child and supernet layer names)."""
    return f"block{slot:02d}"


class ViTSpace:
    """The choices of a ``ViTSpaceConfig`` for data of ``input_channels`` and ``num_classes``, and its operators.

    Choice order (also the super-transformer's path order): patch_size, embed_dim, then per slot
    heads, attention_dim, mlp_dim.
    """

    PER_SLOT = 3

    def __init__(self, config: ViTSpaceConfig, input_channels: int = 3, num_classes: int = 1000):
        self.config = config
        self.input_channels, self.num_classes = int(input_channels), int(num_classes)
        choices = [Choice("patch_size", config.patch_sizes), Choice("embed_dim", config.embed_dims)]
        for i in range(config.num_slots):
            heads = f"{slot_name(i)}_heads"
            block = Condition(heads, config.head_options)
            choices += [Choice(heads, (IDENTITY, *config.head_options)),
                        Choice(f"{slot_name(i)}_attention_dim", config.attention_dims, block),
                        Choice(f"{slot_name(i)}_mlp_dim", config.mlp_dims, block)]
        self.categorical = CategoricalSpace(choices)
        self._tokens = np.array([num_tokens(config.image_size, p) for p in config.patch_sizes], np.float64)
        self._embed = np.array(config.embed_dims, np.float64)
        self._attention = np.array(config.attention_dims, np.float64)
        self._mlp = np.array(config.mlp_dims, np.float64)

    @property
    def num_choices(self) -> list[int]:
        return [len(c.options) for c in self.categorical.choices]

    def slot_columns(self, slot: int) -> tuple[int, int, int]:
        """Path columns of slot ``slot``: (heads, attention_dim, mlp_dim); heads column value 0 = identity."""
        start = 2 + self.PER_SLOT * slot
        return start, start + 1, start + 2

    def with_window(self, min_mflops: float, max_mflops: float) -> CategoricalSpace:
        """The choices under the FLOPs window as a constraint (what a rejecting evolution searches)."""
        return self.categorical.with_constraints([window_constraint(self, min_mflops, max_mflops)])

    # --- architectures, paths, genotypes ----------------------------------------------------------------------
    def path(self, arch: Mapping[str, Any]) -> np.ndarray:
        """Option indices (the super-transformer's path) of ``arch``."""
        return np.asarray(self.categorical.encode(self.categorical.validate(arch)), np.int32)

    def arch_from_path(self, path: Sequence[int]) -> Architecture:
        return self.categorical.canonical(self.categorical.decode([int(i) for i in path]))

    def genotype(self, arch: Mapping[str, Any]) -> ViTGenotype:
        arch = self.categorical.validate(arch)
        blocks = []
        for i in range(self.config.num_slots):
            heads = arch[f"{slot_name(i)}_heads"]
            blocks.append(None if heads == IDENTITY else BlockSpec(int(heads), int(arch[f"{slot_name(i)}_attention_dim"]),
                                                                   int(arch[f"{slot_name(i)}_mlp_dim"])))
        return ViTGenotype(self.config.image_size, int(arch["patch_size"]), int(arch["embed_dim"]), tuple(blocks))

    def arch(self, genotype: ViTGenotype) -> Architecture:
        """The architecture of ``genotype`` in this space, or an error naming what does not fit."""
        c = self.config
        if genotype.image_size != c.image_size or len(genotype.blocks) != c.num_slots:
            raise SearchSpaceError(f"genotype {genotype} ({genotype.image_size}px, {len(genotype.blocks)} slots) does "
                                   f"not come from space config {c.name!r} ({c.image_size}px, {c.num_slots} slots)")
        arch: Architecture = {"patch_size": genotype.patch_size, "embed_dim": genotype.embed_dim}
        for i, b in enumerate(genotype.blocks):
            arch[f"{slot_name(i)}_heads"] = IDENTITY if b is None else b.heads
            arch[f"{slot_name(i)}_attention_dim"] = c.attention_dims[0] if b is None else b.attention_dim
            arch[f"{slot_name(i)}_mlp_dim"] = c.mlp_dims[0] if b is None else b.mlp_dim
        return self.categorical.canonical(self.categorical.validate(arch))

    # --- cost ---------------------------------------------------------------------------------------------------
    def mflops(self, arch: Mapping[str, Any]) -> float:
        return float(self.path_mflops(self.path(arch)[None])[0])

    def params(self, arch: Mapping[str, Any]) -> int:
        return self.genotype(arch).params(self.input_channels, self.num_classes)

    def path_mflops(self, paths: np.ndarray) -> np.ndarray:
        """MFLOPs (MACs / 1e6) of every row of ``paths`` [n, choices] at once."""
        paths = np.asarray(paths)
        tokens, dim = self._tokens[paths[:, 0]], self._embed[paths[:, 1]]
        macs = embedding_macs(self.config.image_size, self.input_channels, dim) + dim * self.num_classes
        for i in range(self.config.num_slots):
            h, a, m = self.slot_columns(i)
            block = block_macs(tokens, dim, self._attention[paths[:, a]], self._mlp[paths[:, m]])
            macs = macs + np.where(paths[:, h] > 0, block, 0.0)
        return macs / 1e6

    def mflops_range(self) -> tuple[float, float]:
        """The smallest (every slot identity, narrowest stream) and largest subnet's MFLOPs."""
        c = self.config
        lo = (embedding_macs(c.image_size, self.input_channels, min(c.embed_dims)) + min(c.embed_dims) * self.num_classes)
        t, d = self._tokens.max(), max(c.embed_dims)
        hi = embedding_macs(c.image_size, self.input_channels, d) + d * self.num_classes
        hi += c.num_slots * block_macs(t, d, max(c.attention_dims), max(c.mlp_dims))
        return lo / 1e6, float(hi) / 1e6

    def mean_mflops(self, identity_probability: float) -> float:
        """Exact mean MFLOPs of subnets drawn with ``identity_probability`` (the tuning's target, noise-free)."""
        dim = self._embed[None, :]
        tokens = self._tokens[:, None]
        stem = embedding_macs(self.config.image_size, self.input_channels, dim) + dim * self.num_classes
        block = block_macs(tokens, dim, self._attention.mean(), self._mlp.mean())
        return float(np.mean(stem + self.config.num_slots * (1.0 - identity_probability) * block)) / 1e6

    # --- sampling with an identity probability ------------------------------------------------------------------
    def sample_paths(self, rng: np.random.Generator, n: int, identity_probability: float) -> np.ndarray:
        """``n`` paths: every choice uniform, except that a slot is identity with ``identity_probability``
        and otherwise a block with uniformly drawn heads (ViTAS' sampling of sub-transformers)."""
        sizes = np.asarray(self.num_choices)
        paths = np.floor(rng.random((n, len(sizes))) * sizes).astype(np.int32)
        heads = len(self.config.head_options)
        for i in range(self.config.num_slots):
            col = self.slot_columns(i)[0]
            identity = rng.random(n) < identity_probability
            paths[:, col] = np.where(identity, 0, 1 + np.floor(rng.random(n) * heads).astype(np.int32))
        return paths

    def sample(self, rng: np.random.Generator, identity_probability: float) -> Architecture:
        return self.arch_from_path(self.sample_paths(rng, 1, identity_probability)[0])

    def path_probabilities(self, identity_probability: float) -> list[list[float]]:
        """Per-choice option probabilities of ``sample_paths`` (the super-transformer's ``set_probabilities``)."""
        if not 0.0 <= identity_probability <= 1.0:
            raise ValueError(f"identity probability must be in [0, 1], got {identity_probability}")
        heads = len(self.config.head_options)
        rows = [[1.0 / n] * n for n in self.num_choices]
        for i in range(self.config.num_slots):
            rows[self.slot_columns(i)[0]] = [identity_probability] + [(1.0 - identity_probability) / heads] * heads
        return rows

    # --- evolution operators --------------------------------------------------------------------------------------
    def _slot_active(self, arch: Mapping[str, Any], slot: int) -> bool:
        return arch[f"{slot_name(slot)}_heads"] != IDENTITY

    def _dim_choices(self, slot: int) -> list[Choice]:
        _, a, m = self.slot_columns(slot)
        return [self.categorical.choices[a], self.categorical.choices[m]]

    def mutate(self, arch: Architecture, rng: np.random.Generator, prob: float) -> Architecture:
        """Re-draw every active choice with probability ``prob`` (``CategoricalSpace.resample``); a slot that a
        mutation turns from identity into a block draws its widths uniformly (an identity slot holds only
        placeholders, which would otherwise make revived blocks always the narrowest)."""
        child = self.categorical.resample(arch, rng, prob)
        for i in range(self.config.num_slots):
            if self._slot_active(child, i) and not self._slot_active(arch, i):
                for c in self._dim_choices(i):
                    child[c.name] = c.options[int(rng.integers(len(c.options)))]
        return child

    def crossover(self, a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture:
        """Uniform crossover (``CategoricalSpace.crossover``); an active slot's widths come from a parent in which
        that slot is a block, never from an identity slot's placeholders."""
        child = self.categorical.crossover(a, b, rng)
        for i in range(self.config.num_slots):
            if not self._slot_active(child, i):
                continue
            donors = [p for p in (a, b) if self._slot_active(p, i)]
            for c in self._dim_choices(i):
                if all(p[c.name] != child[c.name] for p in donors):
                    child[c.name] = donors[int(rng.integers(len(donors)))][c.name]
        return child


    def operators(self, identity_probability: float) -> "ViTOperators":
        """The evolution operators with initial draws at ``identity_probability`` (the tuned one)."""
        return ViTOperators(self, float(identity_probability))


@dataclasses.dataclass(frozen=True)
class ViTOperators:
    """sample / mutate / crossover of a ViT space, what an evolutionary searcher asks of it."""

    space: ViTSpace
    identity_probability: float

    def sample(self, rng: np.random.Generator) -> Architecture:
        return self.space.sample(rng, self.identity_probability)

    def mutate(self, arch: Architecture, rng: np.random.Generator, prob: float) -> Architecture:
        return self.space.mutate(arch, rng, prob)

    def crossover(self, a: Architecture, b: Architecture, rng: np.random.Generator) -> Architecture:
        return self.space.crossover(a, b, rng)


def window_constraint(space: ViTSpace, min_mflops: float, max_mflops: float) -> Constraint:
    return Constraint(f"{min_mflops:g}<=mflops<={max_mflops:g}",
                      lambda arch: min_mflops <= space.mflops(arch) <= max_mflops)


# --- identity-probability tuning --------------------------------------------------------------------------------
@dataclasses.dataclass
class IdentityTuning:
    """The tuned identity probability, the sampled mean MFLOPs there, and every step taken."""

    probability: float
    mean_mflops: float
    iterations: int
    samples: int
    trace: list[tuple[float, float]]

    def to_json(self) -> dict[str, Any]:
        return {"identity_probability": self.probability, "mean_mflops": self.mean_mflops,
                "iterations": self.iterations, "samples": self.samples,
                "trace": [{"identity_probability": p, "mean_mflops": m} for p, m in self.trace]}


def check_window(space: ViTSpace, min_mflops: float, max_mflops: float, step: float = 0.01) -> None:
    """Fail fast (before any training) when no subnet, or no identity probability, can reach the window."""
    if not 0 < min_mflops <= max_mflops:
        raise FlopsWindowError(f"the FLOPs window needs 0 < --min_mflops <= --max_mflops, got [{min_mflops:g}, "
                               f"{max_mflops:g}]")
    lo, hi = space.mflops_range()
    name = space.config.name
    if max_mflops < lo or min_mflops > hi:
        raise FlopsWindowError(
            f"no subnet of space config {name!r} has FLOPs in [--min_mflops={min_mflops:g}, --max_mflops={max_mflops:g}] "
            f"MFLOPs: its subnets range from {lo:.4g} to {hi:.4g} MFLOPs (multiply-accumulates); choose a window "
            "inside that range")
    mean_lo, mean_hi = space.mean_mflops(1.0 - step), space.mean_mflops(step)
    if max_mflops < mean_lo or min_mflops > mean_hi:
        raise FlopsWindowError(
            f"no identity probability in (0, 1) puts the mean FLOPs of sampled subnets of {name!r} in "
            f"[{min_mflops:g}, {max_mflops:g}] MFLOPs: the mean ranges from {mean_lo:.4g} (identity probability "
            f"{1 - step:g}) to {mean_hi:.4g} MFLOPs ({step:g}), while single subnets span {lo:.4g}..{hi:.4g}; choose a "
            "window overlapping the mean's range")


def tune_identity_probability(space: ViTSpace, min_mflops: float, max_mflops: float, samples: int = 1000,
                              seed: int = 0, start: float = 0.5, step: float = 0.01,
                              max_iterations: int = 1000) -> IdentityTuning:
    """ViTAS' budget tuning: from ``start``, sample ``samples`` subnets; mean MFLOPs above the window ->
    identity probability + ``step``, below -> - ``step``; stop when the mean is inside the window.

    Each iteration draws fresh subnets from an RNG seeded by ``seed``, so the result is reproducible.
    """
    if samples < 1:
        raise FlopsWindowError(f"--identity_samples must be >= 1, got {samples}")
    check_window(space, min_mflops, max_mflops, step)
    rng = np.random.default_rng(seed)
    p, trace = float(start), []
    for iteration in range(1, max_iterations + 1):
        mean = float(space.path_mflops(space.sample_paths(rng, samples, p)).mean())
        trace.append((p, mean))
        if min_mflops <= mean <= max_mflops:
            return IdentityTuning(p, mean, iteration, samples, trace)
        p = round(p + step if mean > max_mflops else p - step, 10)
        if not 0.0 < p < 1.0:
            raise FlopsWindowError(
                f"identity-probability tuning left (0, 1) (p={p:g}, last mean {mean:.4g} MFLOPs) without reaching "
                f"[{min_mflops:g}, {max_mflops:g}] MFLOPs; widen the window")
    raise FlopsWindowError(
        f"identity-probability tuning did not settle in [{min_mflops:g}, {max_mflops:g}] MFLOPs after {max_iterations} "
        f"steps (the mean of {samples} samples jumps across the window: last {trace[-2][1]:.4g} at p={trace[-2][0]:g}, "
        f"{trace[-1][1]:.4g} at p={trace[-1][0]:g}); widen the window or raise --identity_samples")
