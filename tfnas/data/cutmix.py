"""Batch-level CutMix and label smoothing (the DeiT / ViTAS training recipe), stateless from a seed.

``cutmix`` follows timm's batch mode as ViTAS' trainer uses it (cutmix_alpha 1.0, probability 1,
label smoothing 0.1): one box for the whole batch, each image's partner is the batch reversed,
lambda ~ Beta(alpha, alpha), the box covers a (1 - lambda) share of the image (clipped at the
border) and the targets mix by the box's actual area. The seed is a [2] tensor (e.g. (seed, step)),
so a resumed run mixes its batches exactly as an uninterrupted one.
"""
from __future__ import annotations

import tensorflow as tf


def smoothed_targets(labels, num_classes: int, smoothing: float = 0.0):
    """One-hot targets with ``smoothing`` spread uniformly over the classes (timm's convention)."""
    onehot = tf.one_hot(tf.cast(labels, tf.int32), num_classes)
    return onehot * (1.0 - smoothing) + smoothing / num_classes if smoothing else onehot


def _beta(alpha: float, seed):
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    a = tf.random.stateless_gamma([], seeds[0], alpha)
    b = tf.random.stateless_gamma([], seeds[1], alpha)
    return a / (a + b)


def cutmix(images, targets, alpha: float, seed):
    """Paste a box of the reversed batch into each image; mix the soft targets by the pasted area."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    lam = _beta(alpha, seeds[0])
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    ratio = tf.sqrt(1.0 - lam)
    cut_h, cut_w = tf.cast(h * ratio, tf.int32), tf.cast(w * ratio, tf.int32)
    centre = tf.random.stateless_uniform([2], seeds[1])
    cy, cx = tf.cast(centre[0] * h, tf.int32), tf.cast(centre[1] * w, tf.int32)
    y1, y2 = tf.clip_by_value(cy - cut_h // 2, 0, height), tf.clip_by_value(cy + cut_h // 2, 0, height)
    x1, x2 = tf.clip_by_value(cx - cut_w // 2, 0, width), tf.clip_by_value(cx + cut_w // 2, 0, width)
    rows, cols = tf.range(height)[:, None], tf.range(width)[None, :]
    box = tf.cast((rows >= y1) & (rows < y2) & (cols >= x1) & (cols < x2), images.dtype)[None, :, :, None]
    mixed = images * (1.0 - box) + tf.reverse(images, [0]) * box
    kept = 1.0 - tf.cast((y2 - y1) * (x2 - x1), tf.float32) / (h * w)
    return mixed, kept * targets + (1.0 - kept) * tf.reverse(targets, [0])
