"""PNAS' accuracy predictors: an LSTM over the token sequence and an MLP over averaged block
embeddings, each an ensemble of members trained on different 4/5 splits (Liu et al., 2018, §3.3).

An architecture reaches a predictor as a sequence of integer tokens (0 = padding) cut into
groups: in PNAS' cell space a group is one block (input1, op1, input2, op2), in any other
categorical space a group is one choice (token = that choice's option). The LSTM reads the
tokens in order and regresses the accuracy from its last hidden state through a sigmoid; the
MLP embeds every token, concatenates the embeddings of a group (a block embedding), averages
over groups, and regresses through two ReLU layers and a sigmoid. Averaging (and the LSTM's
masking) let both predict cells with more blocks than any they were trained on, which the
progressive search relies on.

Training follows the paper: L1 loss, Adam, an ensemble of ``num_members`` predictors, member
``m`` trained on all folds but fold ``m`` of a random 5-fold split.

Refits during a search (``Surrogate.refit``) are warm-started by default: the first fit of a
search trains from scratch (``epochs`` passes), every later one continues from the previous
weights and optimizer state for ``refit_epochs`` passes' worth of minibatches over the results
added since (drawn from all results), so a search's refits cost in all about one fit on its
final data, linear in the budget instead of quadratic. PNAS' Algorithm 1 fine-tunes its
predictor on the new data in the same way [U: from memory of the paper]; ``refit="cold"`` is
the earlier behaviour (every refit from scratch, ``epochs`` passes over everything).

Exact resume: a refit is a deterministic function of (seed, the history, the history lengths at
which the search refitted), which the searchers keep in their JSON state. An ensemble
remembers a digest of the data of every refit its current weights went through; a refit whose
earlier refits match continues, anything else (a restored search, a predictor shared by several
searches) replays the chain from the first fit, bit for bit the same. Folds and minibatch
orders come from numpy RNGs seeded from (seed, number of results); the TensorFlow side
(``tfnas.search.predictor_networks``, imported when the first ensemble is built, so tabular
searches that never fit stay free of TensorFlow) is traced once per ensemble.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from typing import Protocol, Sequence

import numpy as np

from tfnas.search.api import Architecture, CategoricalSpace

KINDS = ("lstm", "mlp")
TARGET_TRANSFORMS = ("minmax", "rank")
REFITS = ("warm", "cold")


class TokenEncoder(Protocol):
    """Turns architectures into padded token sequences for the predictors."""

    vocab_size: int  # largest token id + 1 (0 is padding)
    max_len: int  # tokens per architecture after padding
    group_size: int  # tokens per group (block); max_len is a multiple of it

    def encode(self, archs: Sequence[Architecture]) -> np.ndarray: ...


class CategoricalTokens:
    """Any CategoricalSpace: one token per choice, a distinct id for every (choice, option) pair.

    Distinct ids per choice matter because a categorical space has no shared vocabulary across
    positions (edge 1's conv is not edge 5's conv for the accuracy), and the MLP's average of
    embeddings would otherwise forget which choice took which option.
    """

    group_size = 1

    def __init__(self, space: CategoricalSpace):
        self.space = space
        sizes = [len(c.options) for c in space.choices]
        self.offsets = np.concatenate([[1], 1 + np.cumsum(sizes)[:-1]]).astype(np.int32)
        self.vocab_size = int(1 + sum(sizes))
        self.max_len = len(sizes)

    def encode(self, archs: Sequence[Architecture]) -> np.ndarray:
        indices = np.array([self.space.encode(a) for a in archs], np.int32).reshape(len(archs), self.max_len)
        return indices + self.offsets[None, :]


@dataclasses.dataclass(frozen=True)
class SurrogateConfig:
    """Predictor hyper-parameters. PNAS: D = 100 for embeddings and the LSTM state, 2 x 100 MLP,
    ensembles of 5, L1 + Adam; epochs, batch size, learning rate and the refit schedule are [U]
    and measured here (docs/BENCHMARKS.md).

    ``epochs``: passes over the data of a fit from scratch. ``refit``: "warm" (continue from the
    previous refit for ``refit_epochs`` passes' worth of steps over the newly added results, a
    ``refit_new_fraction`` of every batch drawn from those, the rest from all results; from scratch
    again once the data has grown ``restart_growth``-fold since the last fresh fit, never if None)
    or "cold" (every refit from scratch)."""

    kind: str = "lstm"
    num_members: int = 5
    embed_dim: int = 100
    units: int = 100
    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 0.003
    target_transform: str = "rank"
    refit: str = "warm"
    refit_epochs: int = 300
    restart_growth: float | None = 1.25
    refit_new_fraction: float = 0.5

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"surrogate kind must be one of {KINDS}, got {self.kind!r}")
        if self.target_transform not in TARGET_TRANSFORMS:
            raise ValueError(f"target_transform must be one of {TARGET_TRANSFORMS}, got {self.target_transform!r}")
        if self.refit not in REFITS:
            raise ValueError(f"refit must be one of {REFITS}, got {self.refit!r}")
        if self.num_members < 1:
            raise ValueError(f"num_members must be >= 1, got {self.num_members}")
        if not 0.0 <= self.refit_new_fraction < 1.0:
            raise ValueError(f"refit_new_fraction must be in [0, 1), got {self.refit_new_fraction}")
        if self.restart_growth is not None and self.restart_growth <= 1.0:
            raise ValueError(f"restart_growth must be > 1 (or None: never restart), got {self.restart_growth}")
        if min(self.epochs, self.refit_epochs, self.batch_size) < 1:
            raise ValueError(f"epochs, refit_epochs and batch_size must be >= 1, got {self.epochs}, "
                             f"{self.refit_epochs}, {self.batch_size}")


def _rng(*words: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(w) % 2 ** 63 for w in words])))


class SurrogateEnsemble:
    """``num_members`` LSTM or MLP predictors trained together (stacked weights, one optimizer).

    The output is a sigmoid, as in PNAS, so targets are mapped into [0.1, 0.9] (by their rank or
    by the training range, ``SurrogateConfig.target_transform``) and predictions mapped back by
    the inverse, strictly monotone map.
    """

    def __init__(self, encoder: TokenEncoder, config: SurrogateConfig = SurrogateConfig()):
        from tfnas.search.predictor_networks import StackedPredictors  # TensorFlow only once a predictor is built

        self.encoder = encoder
        self.config = config
        self.network = StackedPredictors(config.kind, config.num_members, encoder.vocab_size, encoder.max_len,
                                         encoder.group_size, config.embed_dim, config.units, config.learning_rate)
        self._scale: tuple[np.ndarray, np.ndarray] | None = None  # (target knots, unit knots)
        self._lineage: list[str] = []  # digests of the refits the current weights went through

    # --- fit -------------------------------------------------------------------------------------------
    def fit(self, archs: Sequence[Architecture], targets: Sequence[float], seed: int) -> "SurrogateEnsemble":
        """Train every member from scratch on its 4/5 split of (archs, targets); deterministic given ``seed``."""
        tokens, y = self._data(archs, targets)
        rng = _rng(seed)
        self.network.initialise(rng)
        self._train(tokens, y, self._member_masks(len(y), rng), rng, self.config.epochs * len(y))
        self._lineage = []  # not part of any refit chain
        return self

    def refit(self, archs: Sequence[Architecture], targets: Sequence[float], fit_sizes: Sequence[int],
              seed: int) -> "SurrogateEnsemble":
        """The predictor a search has after refitting on its first ``fit_sizes[0]``, ``fit_sizes[1]``, ...
        results (``archs``/``targets`` in evaluation order, at least ``fit_sizes[-1]`` of them).

        Warm: a fit from scratch at ``fit_sizes[0]``, then one continued fit per later size. Only
        the refits these weights have not been through yet are run. Cold: one fit from scratch on
        the first ``fit_sizes[-1]`` results, seeded by (seed, that number).
        """
        sizes = [int(s) for s in fit_sizes]
        if not sizes or any(b <= a for a, b in zip(sizes, sizes[1:])) or sizes[-1] > len(archs):
            raise ValueError(f"fit_sizes must increase and stay within the {len(archs)} results, got {sizes}")
        if self.config.refit == "cold":
            return self.fit(archs[: sizes[-1]], targets[: sizes[-1]], seed=int(seed) * 100_003 + sizes[-1])
        tokens, y = self._data(archs[: sizes[-1]], targets[: sizes[-1]])
        lineage = self._digests(tokens, y, sizes, seed)
        fresh = self._fresh_starts(sizes)
        done = len(self._lineage) if self._lineage == lineage[: len(self._lineage)] else 0
        start = max(done, max(i for i in fresh if i < len(sizes)))  # refits before a fresh start leave no trace
        masks = self._member_masks(sizes[-1], _rng(seed, 0))  # prefix-stable: a result keeps its fold
        for i in range(start, len(sizes)):
            n = sizes[i]
            rng = _rng(seed, n)
            if i in fresh:
                self.network.initialise(rng)
                self._train(tokens[:n], y[:n], masks[:n], rng, self.config.epochs * n)
            else:
                self._train(tokens[:n], y[:n], masks[:n], rng, self.config.refit_epochs * (n - sizes[i - 1]),
                            new_from=sizes[i - 1])
        if start == len(sizes):  # nothing new to train: the scale must still be this chain's
            self._fit_scale(y)
        self._lineage = lineage
        return self

    def _fresh_starts(self, sizes: Sequence[int]) -> set[int]:
        """Indices of the refits that start from scratch: the first, and each one whose data has grown
        ``restart_growth``-fold since the last fresh start (a warm start keeps the basin of a fit on
        much less data; geometric restarts keep the total cost linear in the number of results)."""
        fresh, last = {0}, sizes[0]
        for i, n in enumerate(sizes[1:], 1):
            if self.config.restart_growth and n >= self.config.restart_growth * last:
                fresh.add(i)
                last = n
        return fresh

    def _data(self, archs: Sequence[Architecture], targets: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(targets, np.float64)
        if len(y) == 0:
            raise ValueError("cannot fit a surrogate on no data")
        return self.encoder.encode(archs), y

    @staticmethod
    def _digests(tokens: np.ndarray, y: np.ndarray, sizes: Sequence[int], seed: int) -> list[str]:
        """One digest per refit of (seed, its data): what identifies the weights after it."""
        h, out, start = hashlib.sha1(str(int(seed)).encode()), [], 0
        for n in sizes:
            h.update(np.ascontiguousarray(tokens[start:n]).tobytes())
            h.update(np.ascontiguousarray(y[start:n]).tobytes())
            out.append(f"{n}:{h.copy().hexdigest()}")
            start = n
        return out

    def _train(self, tokens: np.ndarray, y: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
               samples: int, new_from: int | None = None) -> None:
        """About ``samples`` minibatch examples, every member on its own split; the target scale is
        refitted to ``y`` first. Batches are passes over the data drawn from ``rng``; with ``new_from``
        (a warm refit), ``refit_new_fraction`` of every batch comes from the results from that index on
        (what the weights have not seen) and the rest from all results (replayed, so nothing is forgotten)."""
        self._fit_scale(y)
        labels = np.concatenate([self._to_unit(y)[:, None], mask], axis=1).astype(np.float32)
        n = len(y)
        batch = min(self.config.batch_size, n)
        steps = math.ceil(samples / batch)
        fresh = 0 if new_from is None else min(batch - 1, round(batch * self.config.refit_new_fraction))
        parts = [_passes(rng, np.arange(n), steps * (batch - fresh)).reshape(steps, batch - fresh)]
        if fresh:
            parts.append(_passes(rng, np.arange(new_from, n), steps * fresh).reshape(steps, fresh))
        self.network.train(tokens, labels, np.concatenate(parts, axis=1))

    def _member_masks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """[n, M] 0/1: member m trains on the examples not in fold m. Folds are dealt in rounds of M
        (one example per fold each), so the first k examples' folds do not depend on n."""
        m = self.config.num_members
        if m == 1 or n < 2 * m:  # too little data to hold a fold out: every member sees all of it
            return np.ones((n, m), np.float32)
        folds = np.concatenate([rng.permutation(m) for _ in range(-(-n // m))])[:n]
        return (folds[:, None] != np.arange(m)[None, :]).astype(np.float32)

    # --- predict ---------------------------------------------------------------------------------------
    def predict_members(self, archs: Sequence[Architecture] | None = None, *,
                        tokens: np.ndarray | None = None) -> np.ndarray:
        """[n, num_members] predicted targets, in the targets' units, of ``archs`` or of their
        already encoded ``tokens`` (searchers that rank one fixed pool encode it once)."""
        if self._scale is None:
            raise RuntimeError("fit the surrogate before predicting")
        if tokens is None:
            tokens = self.encoder.encode(archs)
        return self._from_unit(self.network.predict(tokens).astype(np.float64))

    def predict(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Ensemble mean prediction per architecture."""
        return self.predict_members(archs).mean(axis=1)

    def _fit_scale(self, y: np.ndarray) -> None:
        """Remember how targets map into the sigmoid's range: by min/max ("minmax", PNAS' plain
        regression of accuracy) or by rank ("rank": the k-th smallest of n goes to k/(n-1), which
        spreads the few top architectures apart when most of the range is spent on failures)."""
        if self.config.target_transform == "rank":
            ys = np.sort(y)
            units = 0.1 + 0.8 * (np.arange(len(ys)) / max(len(ys) - 1, 1))
            # average units over tied targets so equal accuracies get equal labels
            _, first, counts = np.unique(ys, return_index=True, return_counts=True)
            knots_y = ys[first]
            knots_u = np.array([units[f:f + c].mean() for f, c in zip(first, counts)])
        else:
            lo, hi = float(y.min()), float(y.max())
            hi = hi if hi > lo else lo + 1.0
            knots_y, knots_u = np.array([lo, hi]), np.array([0.1, 0.9])
        if len(knots_y) == 1:
            knots_y, knots_u = np.array([knots_y[0], knots_y[0] + 1.0]), np.array([0.5, 0.9])
        self._scale = (knots_y, knots_u)

    def _to_unit(self, y: np.ndarray) -> np.ndarray:
        return _interp(y, *self._scale)

    def _from_unit(self, u: np.ndarray) -> np.ndarray:
        knots_y, knots_u = self._scale
        return _interp(u, knots_u, knots_y)


def _passes(rng: np.random.Generator, items: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` entries of consecutive random permutations of ``items``."""
    if count <= 0:
        return np.zeros(0, np.int64)
    return np.concatenate([rng.permutation(items) for _ in range(-(-count // len(items)))])[:count]


def _interp(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Piecewise-linear map through increasing knots, extended linearly beyond both ends (strictly
    monotone, so predictions beyond the training range keep their order)."""
    out = np.interp(x, xp, fp)
    lo_slope = (fp[1] - fp[0]) / (xp[1] - xp[0])
    hi_slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    out = np.where(x < xp[0], fp[0] + (x - xp[0]) * lo_slope, out)
    return np.where(x > xp[-1], fp[-1] + (x - xp[-1]) * hi_slope, out)


class Surrogate:
    """What the searchers use: one or both ensembles (``kinds``), their mean as the prediction."""

    def __init__(self, encoder: TokenEncoder, kinds: Sequence[str] = ("lstm",), **config):
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds:
            raise ValueError(f"surrogate kinds must be a non-empty subset of {KINDS}, got {list(kinds)}")
        self.kinds = tuple(kinds)
        self.encoder = encoder
        self.ensembles = {k: SurrogateEnsemble(encoder, SurrogateConfig(kind=k, **config.get(k, {})))
                          for k in self.kinds}

    def fit(self, archs: Sequence[Architecture], targets: Sequence[float], seed: int) -> "Surrogate":
        """Every ensemble from scratch on (archs, targets)."""
        for i, ensemble in enumerate(self.ensembles.values()):
            ensemble.fit(archs, targets, seed * 7 + i)
        return self

    def refit(self, archs: Sequence[Architecture], targets: Sequence[float], fit_sizes: Sequence[int],
              seed: int) -> "Surrogate":
        """Every ensemble as a search leaves it after refits at ``fit_sizes`` (SurrogateEnsemble.refit)."""
        for i, ensemble in enumerate(self.ensembles.values()):
            ensemble.refit(archs, targets, fit_sizes, seed * 7 + i)
        return self

    def predict_by_kind(self, archs: Sequence[Architecture] | None = None, *,
                        tokens: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Ensemble-mean prediction per kind and ``"ensemble"`` (the mean over kinds)."""
        if tokens is None:
            tokens = self.encoder.encode(archs)
        out = {k: e.predict_members(tokens=tokens).mean(axis=1) for k, e in self.ensembles.items()}
        out["ensemble"] = np.mean([out[k] for k in self.kinds], axis=0) if len(self.kinds) > 1 else out[self.kinds[0]]
        return out

    def predict(self, archs: Sequence[Architecture]) -> np.ndarray:
        return self.predict_by_kind(archs)["ensemble"]


def spearman(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Spearman rank correlation (PNAS' measure of a predictor); NaN when either side is constant.

    The Pearson correlation of the average ranks (ties share their mean rank), as
    ``scipy.stats.spearmanr``; numpy only, so importing the searchers stays cheap."""
    predicted, measured = np.asarray(predicted, np.float64), np.asarray(measured, np.float64)
    if len(predicted) < 2 or np.ptp(predicted) == 0 or np.ptp(measured) == 0:
        return float("nan")
    return float(np.corrcoef(_average_ranks(predicted), _average_ranks(measured))[0, 1])


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x``, tied values sharing the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]
