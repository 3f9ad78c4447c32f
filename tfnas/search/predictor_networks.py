"""The TensorFlow side of PNAS' predictor ensembles: all members of one ensemble in one flat
parameter vector, one traced training function and one traced prediction function per search.

Predictors this small are bound on a CPU by the number of ops per step, not by arithmetic, so:

* every member's weights carry a leading member axis ``[M, ...]`` and every layer is one batched
  matmul (``einsum`` over members): an ensemble of 5 runs the ops of one predictor;
* all weights live in one variable (views are cut from it per step), and Adam is written out on
  that one vector: a dozen ops per step instead of a dozen per weight tensor;
* a whole fit (every minibatch step) is one call of a ``tf.function`` whose inputs have unknown
  sizes (results, batch, steps), so it is traced when the ensemble is built and never again,
  however the data grows.

Tokens are embedded as one-hot rows times the embedding matrix (instead of a gather): the
vocabularies are tiny (< 40 ids), the gradient is dense, and dense gradients make a fit bit-for-bit
repeatable, which an exactly resumable search needs.

The math is that of the Keras layers PNAS' predictors were first written with
(``keras.layers.Embedding`` / ``LSTM`` / ``Dense``, ``keras.optimizers.Adam``): LSTM gates in
Keras' order (input, forget, cell, output), sigmoid recurrent activation, tanh, forget-gate bias
1, padded steps carry the state on (Keras' ``mask_zero``); MLP: block embeddings (a group's token
embeddings concatenated) averaged over non-padding blocks, two ReLU layers, a sigmoid output.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

PREDICT_CHUNK = 4096  # rows per prediction call: bounds the LSTM's [M, n, 4U] activations
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7  # Keras' Adam defaults


class StackedPredictors(tf.Module):
    """``num_members`` LSTM or MLP predictors with stacked weights, trained with Adam.

    Args:
      kind: "lstm" or "mlp".
      vocab_size / max_len / group_size: the token encoder's (0 is padding).
      embed_dim, units: PNAS' D (embedding size, LSTM state / MLP hidden units).
    """

    def __init__(self, kind: str, num_members: int, vocab_size: int, max_len: int, group_size: int,
                 embed_dim: int, units: int, learning_rate: float):
        super().__init__(name=f"{kind}_ensemble")
        if max_len % group_size:
            raise ValueError(f"max_len {max_len} is not a multiple of group_size {group_size}")
        self.kind, self.num_members, self.vocab_size = kind, num_members, vocab_size
        self.max_len, self.group_size, self.units = max_len, group_size, units
        self.learning_rate = learning_rate
        d, u = embed_dim, units
        shapes = {"embeddings": (vocab_size, d)}
        if kind == "lstm":
            shapes.update(lstm_kernel=(d, 4 * u), lstm_recurrent_kernel=(u, 4 * u), lstm_bias=(4 * u,))
        else:
            shapes.update(dense1_kernel=(group_size * d, u), dense1_bias=(u,), dense2_kernel=(u, u), dense2_bias=(u,))
        shapes.update(out_kernel=(u, 1), out_bias=(1,))
        self.shapes = {name: (num_members,) + shape for name, shape in shapes.items()}
        self.sizes = [math.prod(s) for s in self.shapes.values()]
        size = sum(self.sizes)
        self.params = tf.Variable(tf.zeros([size]), name="params")
        self.adam_m = tf.Variable(tf.zeros([size]), name="adam_m")
        self.adam_v = tf.Variable(tf.zeros([size]), name="adam_v")
        self.adam_step = tf.Variable(0.0, name="adam_step")
        self.steps_run = 0  # minibatch steps trained over this object's life (what refits cost)
        self._train = tf.function(self._train_steps, input_signature=[
            tf.TensorSpec([None, max_len], tf.int32), tf.TensorSpec([None, 1 + num_members], tf.float32),
            tf.TensorSpec([None, None], tf.int32)])
        self._predict = tf.function(lambda tokens: self._forward(self._unpack(self.params), self._inputs(tokens)),
                                    input_signature=[tf.TensorSpec([None, max_len], tf.int32)])

    # --- weights -------------------------------------------------------------------------------------
    def _unpack(self, flat: tf.Tensor) -> dict[str, tf.Tensor]:
        return {name: tf.reshape(part, shape)
                for (name, shape), part in zip(self.shapes.items(), tf.split(flat, self.sizes))}

    def initialise(self, rng: np.random.Generator) -> None:
        """Fresh weights from ``rng`` and a zeroed optimizer: PNAS' U(-0.1, 0.1) embeddings, Glorot
        uniform kernels, orthogonal recurrent kernels, zero biases (LSTM forget gate 1)."""
        parts = []
        for name, shape in self.shapes.items():
            if name == "embeddings":
                value = rng.uniform(-0.1, 0.1, shape)
            elif name == "lstm_recurrent_kernel":
                value = np.stack([_orthogonal_rows(shape[1], shape[2], rng) for _ in range(shape[0])])
            elif name.endswith("kernel"):
                limit = np.sqrt(6.0 / (shape[1] + shape[2]))
                value = rng.uniform(-limit, limit, shape)
            else:
                value = np.zeros(shape)
                if name == "lstm_bias":
                    value[:, self.units: 2 * self.units] = 1.0  # Keras' unit_forget_bias
            parts.append(value.ravel())
        self.params.assign(np.concatenate(parts).astype(np.float32))
        for v in (self.adam_m, self.adam_v):
            v.assign(tf.zeros_like(v))
        self.adam_step.assign(0.0)

    def weights(self) -> dict[str, np.ndarray]:
        """The current weights by name, each [num_members, ...]."""
        return {name: w.numpy() for name, w in self._unpack(self.params).items()}

    # --- forward -------------------------------------------------------------------------------------
    def _inputs(self, tokens: tf.Tensor) -> tf.Tensor:
        """What the weights see of [n, max_len] tokens, computed once per fit for every result.

        LSTM: [n, L, V + 1] one-hot rows plus a last column 1 where the token is not padding. MLP:
        [n, G * V], per position in a block the one-hot rows averaged over the non-padding blocks
        (the block average and the first dense layer are linear, so averaging the one-hot rows and
        multiplying by each position's embeddings @ kernel slice is embedding -> concatenate ->
        average -> dense without [M, n, L, D] activations).
        """
        onehot = tf.one_hot(tokens, self.vocab_size, dtype=tf.float32)  # [n, L, V]
        if self.kind == "lstm":
            return tf.concat([onehot, tf.cast(tokens > 0, tf.float32)[:, :, None]], axis=-1)
        groups, size = self.max_len // self.group_size, self.group_size
        present = tf.cast(tf.reduce_any(tf.reshape(tokens, [-1, groups, size]) > 0, axis=-1), tf.float32)
        weight = present / tf.maximum(tf.reduce_sum(present, axis=1, keepdims=True), 1.0)
        blocks = tf.einsum("ngpv,ng->npv", tf.reshape(onehot, [-1, groups, size, self.vocab_size]), weight)
        return tf.reshape(blocks, [-1, size * self.vocab_size])

    def _forward(self, w: dict[str, tf.Tensor], inputs: tf.Tensor) -> tf.Tensor:
        """``_inputs`` rows -> [n, num_members] outputs in (0, 1)."""
        hidden = self._lstm(w, inputs) if self.kind == "lstm" else self._mlp(w, inputs)
        out = tf.sigmoid(tf.matmul(hidden, w["out_kernel"]) + w["out_bias"][:, None, :])
        return tf.transpose(out[:, :, 0])

    def _lstm(self, w: dict[str, tf.Tensor], inputs: tf.Tensor) -> tf.Tensor:
        onehot, present = inputs[:, :, :-1], inputs[:, :, -1:] > 0
        # (one-hot @ embeddings) @ kernel == one-hot @ (embeddings @ kernel): project the vocabulary once
        projected = tf.matmul(w["embeddings"], w["lstm_kernel"]) + w["lstm_bias"][:, None, :]  # [M, V, 4U]
        h = c = tf.zeros(tf.stack([self.num_members, tf.shape(inputs)[0], self.units]))
        for t in range(self.max_len):
            z = tf.matmul(onehot[None, :, t], projected) + tf.matmul(h, w["lstm_recurrent_kernel"])
            i, f, g, o = tf.split(z, 4, axis=-1)
            c_new = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h_new = tf.sigmoid(o) * tf.tanh(c_new)
            keep = present[None, :, t]  # padding carries the state on (Keras' masking)
            h, c = tf.where(keep, h_new, h), tf.where(keep, c_new, c)
        return h

    def _mlp(self, w: dict[str, tf.Tensor], inputs: tf.Tensor) -> tf.Tensor:
        size = self.group_size
        per_position = tf.reshape(w["dense1_kernel"], [self.num_members, size, -1, self.units])  # [M, G, D, U]
        projected = tf.matmul(w["embeddings"][:, None], per_position)  # [M, G, V, U]
        projected = tf.reshape(projected, [self.num_members, size * self.vocab_size, self.units])
        hidden = tf.nn.relu(tf.matmul(inputs[None], projected) + w["dense1_bias"][:, None, :])
        return tf.nn.relu(tf.matmul(hidden, w["dense2_kernel"]) + w["dense2_bias"][:, None, :])

    # --- training / prediction -------------------------------------------------------------------------
    def _train_steps(self, tokens: tf.Tensor, labels: tf.Tensor, batches: tf.Tensor) -> tf.Tensor:
        """One Adam step per row of ``batches`` (indices into tokens / labels); returns the last loss.

        ``labels`` = [target in (0, 1), mask_1..mask_M]: member m learns only where its mask is 1
        (its 4/5 split). L1 loss, as in PNAS; Adam as Keras writes it.
        """
        loss = tf.constant(0.0)
        inputs = self._inputs(tokens)
        for step in tf.range(tf.shape(batches)[0]):
            index = batches[step]
            x, y = tf.gather(inputs, index), tf.gather(labels, index)
            with tf.GradientTape() as tape:
                tape.watch(self.params)
                mask = y[:, 1:]
                error = mask * tf.abs(y[:, :1] - self._forward(self._unpack(self.params), x))
                loss = tf.reduce_sum(error) / tf.maximum(tf.reduce_sum(mask), 1.0)
            grad = tape.gradient(loss, self.params)
            t = self.adam_step.assign_add(1.0)
            m = self.adam_m.assign_add((grad - self.adam_m) * (1.0 - ADAM_BETA_1))
            v = self.adam_v.assign_add((tf.square(grad) - self.adam_v) * (1.0 - ADAM_BETA_2))
            alpha = self.learning_rate * tf.sqrt(1.0 - ADAM_BETA_2 ** t) / (1.0 - ADAM_BETA_1 ** t)
            self.params.assign_sub(alpha * m / (tf.sqrt(v) + ADAM_EPSILON))
        return loss

    def train(self, tokens: np.ndarray, labels: np.ndarray, batches: np.ndarray) -> float:
        """One Adam step per row of ``batches`` ([steps, batch] indices into tokens / labels)."""
        if len(batches) == 0:
            return float("nan")
        self.steps_run += len(batches)
        return float(self._train(tf.constant(tokens, tf.int32), tf.constant(labels, tf.float32),
                                 tf.constant(batches, tf.int32)))

    def predict(self, tokens: np.ndarray) -> np.ndarray:
        """[n, num_members] outputs in (0, 1)."""
        if len(tokens) == 0:
            return np.zeros((0, self.num_members), np.float32)
        return np.concatenate([self._predict(tf.constant(tokens[i: i + PREDICT_CHUNK], tf.int32)).numpy()
                               for i in range(0, len(tokens), PREDICT_CHUNK)])


def _orthogonal_rows(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A [rows, cols] matrix with orthonormal rows (rows <= cols), Keras' Orthogonal for a recurrent kernel."""
    q, r = np.linalg.qr(rng.normal(size=(cols, rows)))
    return (q * np.sign(np.diag(r))).T
