"""Transformer ops: left/right slices of the largest weight, private q/k per head option, child == slice."""
from __future__ import annotations

import numpy as np
import pytest

import tfnas  # noqa: F401
import tensorflow as tf

from tfnas.ops import transformer_ops as ops

keras = tf.keras


def _randomise(layer, seed=0):
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign(rng.normal(0, 0.3, v.shape).astype(np.float32))


@pytest.mark.parametrize("side", ops.SIDES)
def test_sliceable_dense_uses_first_or_last_channels_of_its_largest_weight(side):
    layer = ops.SliceableDense(6, 8)
    _randomise(layer)
    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    if side == "left":
        expected = x @ kernel[:4, :5] + bias[:5]
    else:
        expected = x @ kernel[-4:, -5:] + bias[-5:]
    np.testing.assert_allclose(layer(x, 5, side).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert layer(x, tf.constant(5), side).shape == (2, 3, 5)  # sizes may be tensors (one graph for every size)


@pytest.mark.parametrize("side", ops.SIDES)
def test_sliceable_layer_norm_normalises_with_a_slice_of_gamma_and_beta(side):
    layer = ops.SliceableLayerNorm(8)
    _randomise(layer)
    x = np.random.default_rng(2).normal(size=(2, 3, 5)).astype(np.float32)
    sl = slice(0, 5) if side == "left" else slice(3, 8)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + ops.LAYER_NORM_EPSILON) * layer.gamma.numpy()[sl] + layer.beta.numpy()[sl]
    np.testing.assert_allclose(layer(x, side).numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("private", [True, False])
def test_patch_embeddings_are_private_per_patch_size_and_the_class_token_optionally(private):
    layer = ops.PatchEmbeddings((4, 7), 28, 1, 16, private_class_token=private)
    images = np.random.default_rng(3).normal(size=(2, 28, 28, 1)).astype(np.float32)
    assert layer(images, tf.constant(0), 8).shape == (2, 50, 8)
    assert layer(images, tf.constant(1), 8).shape == (2, 17, 8)
    first, second = layer.embeddings
    assert first.kernel is not second.kernel and first.position is not second.position
    assert (first.class_token is second.class_token) == (not private)


def test_attention_has_private_query_key_per_head_option_and_shared_value_projection():
    layer = ops.SliceableAttention(16, 16, (1, 2, 4))
    x = tf.constant(np.random.default_rng(4).normal(size=(2, 5, 12)).astype(np.float32))
    used = {}
    for j in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, tf.constant(j), 8) ** 2)
        grads = tape.gradient(loss, layer.trainable_variables)
        used[j] = {v.ref() for v, g in zip(layer.trainable_variables, grads)
                   if g is not None and float(tf.reduce_max(tf.abs(g))) > 0}
    private = [{v.ref() for v in layer.queries[j].weights + layer.keys[j].weights} for j in range(3)]
    shared = {v.ref() for v in layer.values.weights + layer.projection.weights}
    for j in range(3):
        assert private[j] <= used[j] and shared <= used[j]
        assert not any(private[i] & used[j] for i in range(3) if i != j)


@pytest.mark.parametrize("side", ops.SIDES)
def test_child_layers_with_sliced_weights_compute_the_sliced_layers(side):
    rng = np.random.default_rng(5)
    embed = ops.PatchEmbeddings((7,), 28, 1, 16)
    block = ops.SliceableTransformerBlock(16, (1, 2, 4), 16, 32)
    head = ops.SliceableClassifier(16, 10)
    for layer in (embed, block, head):
        _randomise(layer, int(rng.integers(100)))
    images = rng.normal(size=(2, 28, 28, 1)).astype(np.float32)
    dim, head_index, attention_dim, mlp_dim = 12, 1, 8, 20
    tokens = embed(images, tf.constant(0), dim, side)
    out = head(block(tokens, tf.constant(head_index), attention_dim, mlp_dim, side), side)

    child_embed, child_block, child_head = ops.PatchEmbedding(7, dim), ops.TransformerBlock(2, 8, 20), \
        ops.ClassifierHead(10)
    child_tokens = child_embed(images)
    child_embed.set_weights([w.numpy() for w in embed.embeddings[0].weights_for(dim, side)])
    child_block(child_tokens)
    child_block.set_weights([w.numpy() for w in ops.flat_weights(
        block.weights_for(dim, head_index, attention_dim, mlp_dim, side))])
    child_head(child_tokens)
    child_head.set_weights([w.numpy() for w in ops.flat_weights(head.weights_for(dim, side))])
    child_out = child_head(child_block(child_embed(images)))
    np.testing.assert_allclose(child_out.numpy(), out.numpy(), rtol=1e-5, atol=1e-5)


def test_bad_slice_side_is_refused():
    with pytest.raises(ValueError, match="side must be one of"):
        ops.SliceableDense(4, 4)(np.zeros((1, 2, 4), np.float32), 2, "middle")
