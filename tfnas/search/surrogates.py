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
``m`` trained on all folds but fold ``m`` of a random 5-fold split. Engineering for speed on
CPU: all members of an ensemble live in one Keras model (one ``fit``, one ``predict``), the
model is built and compiled once and re-initialised from a numpy RNG for every refit, and the
minibatch order is drawn from the same RNG, so a refit depends only on (data, seed): a search
restored from its state refits exactly as the uninterrupted one did.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence

import numpy as np
import tensorflow as tf
from scipy import stats

from tfnas.search.api import Architecture, CategoricalSpace

keras = tf.keras

KINDS = ("lstm", "mlp")
TARGET_TRANSFORMS = ("minmax", "rank")
STEPS_PER_EXECUTION = 64  # training steps per tf.function call: the predictors are tiny, Python overhead is not


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
    ensembles of 5, L1 + Adam; epochs, batch size, learning rate are [U] and measured here."""

    kind: str = "lstm"
    num_members: int = 5
    embed_dim: int = 100
    units: int = 100
    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 0.003
    target_transform: str = "rank"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"surrogate kind must be one of {KINDS}, got {self.kind!r}")
        if self.target_transform not in TARGET_TRANSFORMS:
            raise ValueError(f"target_transform must be one of {TARGET_TRANSFORMS}, got {self.target_transform!r}")
        if self.num_members < 1:
            raise ValueError(f"num_members must be >= 1, got {self.num_members}")


def _masked_l1(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """L1 loss per member on its own split: y_true = [target, mask_1..mask_M], y_pred = [M]."""
    target, mask = y_true[:, :1], y_true[:, 1:]
    return tf.reduce_sum(mask * tf.abs(target - y_pred)) / tf.maximum(tf.reduce_sum(mask), 1.0)


class SurrogateEnsemble:
    """``num_members`` LSTM or MLP predictors trained together in one Keras model.

    The output is a sigmoid, as in PNAS, so targets are mapped into [0.1, 0.9] (by their rank or
    by the training range, ``SurrogateConfig.target_transform``) and predictions mapped back by
    the inverse, strictly monotone map.
    """

    def __init__(self, encoder: TokenEncoder, config: SurrogateConfig = SurrogateConfig()):
        self.encoder = encoder
        self.config = config
        self.model = self._build()
        self.model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=_masked_l1,
                           steps_per_execution=STEPS_PER_EXECUTION)
        self._initial_biases = {w.name: w.numpy() for w in self.model.weights if _is_bias(w)}
        self._scale: tuple[np.ndarray, np.ndarray] | None = None  # (target knots, unit knots)

    # --- model ------------------------------------------------------------------------------------
    def _build(self) -> keras.Model:
        c, enc = self.config, self.encoder
        tokens = keras.Input((enc.max_len,), dtype="int32", name="tokens")
        outputs = []
        for m in range(c.num_members):
            embed = keras.layers.Embedding(enc.vocab_size, c.embed_dim, mask_zero=(c.kind == "lstm"),
                                           name=f"member{m}_embedding")(tokens)
            if c.kind == "lstm":
                hidden = keras.layers.LSTM(c.units, unroll=True, name=f"member{m}_lstm")(embed)
            else:
                hidden = _GroupAverage(enc.group_size, name=f"member{m}_block_average")([embed, tokens])
                hidden = keras.layers.Dense(c.units, "relu", name=f"member{m}_dense1")(hidden)
                hidden = keras.layers.Dense(c.units, "relu", name=f"member{m}_dense2")(hidden)
            outputs.append(keras.layers.Dense(1, "sigmoid", name=f"member{m}_out")(hidden))
        out = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(name="members")(outputs)
        return keras.Model(tokens, out, name=f"{c.kind}_ensemble")

    def _reinitialise(self, rng: np.random.Generator) -> None:
        """Fresh weights from ``rng`` (Glorot kernels, orthogonal recurrent kernels, PNAS' U(-0.1, 0.1)
        embeddings, Keras' initial biases) and a zeroed optimizer: a refit never depends on an earlier one."""
        for w in self.model.weights:
            shape = tuple(w.shape)
            if _is_bias(w):
                value = self._initial_biases[w.name]
            elif "embeddings" in w.name:
                value = rng.uniform(-0.1, 0.1, shape)
            elif "recurrent_kernel" in w.name:
                q, r = np.linalg.qr(rng.normal(size=(shape[1], shape[0])))
                value = (q * np.sign(np.diag(r))).T
            else:
                limit = np.sqrt(6.0 / (shape[0] + shape[-1]))
                value = rng.uniform(-limit, limit, shape)
            w.assign(np.asarray(value, np.float32))
        for v in self.model.optimizer.variables:
            v.assign(tf.zeros_like(v))

    # --- fit / predict ---------------------------------------------------------------------------------
    def fit(self, archs: Sequence[Architecture], targets: Sequence[float], seed: int) -> "SurrogateEnsemble":
        """Train every member on its 4/5 split of (archs, targets); deterministic given ``seed``."""
        tokens = self.encoder.encode(archs)
        y = np.asarray(targets, np.float64)
        if len(y) == 0:
            raise ValueError("cannot fit a surrogate on no data")
        self._fit_scale(y)
        rng = np.random.Generator(np.random.PCG64(seed))
        self._reinitialise(rng)
        mask = self._member_masks(len(y), rng)
        labels = np.concatenate([self._to_unit(y)[:, None], mask], axis=1).astype(np.float32)
        c = self.config
        batch = min(c.batch_size, len(y))
        order = np.concatenate([rng.permutation(len(y)) for _ in range(c.epochs)])
        self.model.fit(tokens[order], labels[order], batch_size=batch, epochs=1, shuffle=False, verbose=0)
        return self

    def _member_masks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        m = self.config.num_members
        if m == 1 or n < 2 * m:  # too little data to hold a fold out: every member sees all of it
            return np.ones((n, m), np.float32)
        folds = rng.permutation(n) % m
        return (folds[:, None] != np.arange(m)[None, :]).astype(np.float32)

    def predict_members(self, archs: Sequence[Architecture] | None = None, *, tokens: np.ndarray | None = None,
                        batch_size: int = 8192) -> np.ndarray:
        """[n, num_members] predicted targets, in the targets' units, of ``archs`` or of their
        already encoded ``tokens`` (searchers that rank one fixed pool encode it once)."""
        if self._scale is None:
            raise RuntimeError("fit the surrogate before predicting")
        if tokens is None:
            tokens = self.encoder.encode(archs)
        if len(tokens) == 0:
            return np.zeros((0, self.config.num_members))
        out = self.model.predict(tokens, batch_size=batch_size, verbose=0).reshape(len(tokens), -1)
        return self._from_unit(out.astype(np.float64))

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


def _interp(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Piecewise-linear map through increasing knots, extended linearly beyond both ends (strictly
    monotone, so predictions beyond the training range keep their order)."""
    out = np.interp(x, xp, fp)
    lo_slope = (fp[1] - fp[0]) / (xp[1] - xp[0])
    hi_slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    out = np.where(x < xp[0], fp[0] + (x - xp[0]) * lo_slope, out)
    return np.where(x > xp[-1], fp[-1] + (x - xp[-1]) * hi_slope, out)


class _GroupAverage(keras.layers.Layer):
    """Concatenate the embeddings of each group's tokens, then average over non-padding groups."""

    def __init__(self, group_size: int, **kwargs):
        super().__init__(**kwargs)
        self.group_size = group_size

    def call(self, inputs):
        embed, tokens = inputs
        length, dim = embed.shape[1], embed.shape[2]
        groups = tf.reshape(embed, [-1, length // self.group_size, self.group_size * dim])
        present = tf.cast(tf.reduce_any(tf.reshape(tokens, [-1, length // self.group_size, self.group_size]) > 0,
                                        axis=-1), embed.dtype)[:, :, None]
        return tf.reduce_sum(groups * present, axis=1) / tf.maximum(tf.reduce_sum(present, axis=1), 1.0)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}


def _is_bias(w: tf.Variable) -> bool:
    return w.name.split("/")[-1].startswith("bias")


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
        for i, ensemble in enumerate(self.ensembles.values()):
            ensemble.fit(archs, targets, seed * 7 + i)
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
    """Spearman rank correlation (PNAS' measure of a predictor); NaN when either side is constant."""
    predicted, measured = np.asarray(predicted, np.float64), np.asarray(measured, np.float64)
    if len(predicted) < 2 or np.ptp(predicted) == 0 or np.ptp(measured) == 0:
        return float("nan")
    return float(stats.spearmanr(predicted, measured).correlation)
