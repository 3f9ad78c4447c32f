"""Per-image training augmentation and normalisation, shared by in-memory and streamed datasets.

Every random choice takes a stateless seed, so the in-memory pipeline (tfnas/data/pipeline.py)
is a pure function of (seed, epoch, position) and a resumed run sees the same augmented batches.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Augment:
    """Training augmentation: random crop after zero padding, optional flip, cutout (DARTS' 16 for CIFAR)."""

    crop_padding: int = 0
    flip: bool = False
    cutout: int = 0

    @classmethod
    def standard(cls, data: Any, cutout: int = 0) -> "Augment":
        """CIFAR's recipe scaled to the image: pad H/8 (4 px at 32x32), flip where labels allow."""
        return cls(crop_padding=max(1, data.image_shape[0] // 8), flip=data.spec.flip, cutout=cutout)

    def __call__(self, image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Augment one float image [H, W, C] with a stateless seed [2]."""
        h, w, c = image.shape
        seeds = tf.random.experimental.stateless_split(seed, 3)
        if self.crop_padding:
            p = self.crop_padding
            padded = tf.pad(image, [[p, p], [p, p], [0, 0]])
            image = tf.image.stateless_random_crop(padded, [h, w, c], seed=seeds[0])
        if self.flip:
            image = tf.image.stateless_random_flip_left_right(image, seed=seeds[1])
        if self.cutout:
            image = cutout(image, self.cutout, seeds[2])
        return image


def cutout(image: tf.Tensor, length: int, seed: tf.Tensor) -> tf.Tensor:
    """Zero a length x length square centred at a uniformly random pixel (clipped at borders)."""
    h, w = image.shape[0], image.shape[1]
    centre = tf.cast(tf.random.stateless_uniform([2], seed) * tf.constant([h, w], tf.float32), tf.int32)
    rows = tf.range(h)[:, None]
    cols = tf.range(w)[None, :]
    half = length // 2
    inside = ((rows >= centre[0] - half) & (rows < centre[0] - half + length)
              & (cols >= centre[1] - half) & (cols < centre[1] - half + length))
    return image * tf.cast(~inside, image.dtype)[:, :, None]


def normalize(images: tf.Tensor, mean: np.ndarray, std: np.ndarray) -> tf.Tensor:
    return (tf.cast(images, tf.float32) / 255.0 - mean) / std
