"""Datasets too large for memory (ImageNet): streamed from tfds, augmented on the fly.

``load_image_data`` returns a ``StreamingImageData`` instead of in-memory arrays when the
training split would not fit in ``max_in_memory_bytes`` (or its images have no fixed size).
Training images get the ImageNet recipe (random resized crop, scale 0.08-1, aspect 3/4-4/3,
flip where labels allow); evaluation images are resized to image_size / 0.875 and centre-cropped.

Unlike in-memory data, the streamed order comes from tfds' seeded file shuffling plus a seeded
shuffle buffer: it is reproducible from the start of a run, but a run resumed at epoch k sees a
new order rather than epoch k's (the model state itself resumes exactly).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfnas.data import augment as augment_lib
from tfnas.data.registry import DatasetSpec

SHUFFLE_BUFFER = 10_000


@dataclasses.dataclass(frozen=True)
class SplitRange:
    """Examples [start, stop) of the training split (a search split of a streamed dataset)."""

    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start

    def tfds_split(self, split: str) -> str:
        return f"{split}[{self.start}:{self.stop}]"


@dataclasses.dataclass
class StreamingImageData:
    """A tfds dataset read from disk on every pass, with the spec and normalisation it needs."""

    spec: DatasetSpec
    builder: Any
    num_classes: int
    image_size: int
    channels: int
    mean: np.ndarray
    std: np.ndarray
    num_train: int
    num_test: int

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)

    @property
    def name(self) -> str:
        return self.spec.name

    def search_split(self, train_portion: float, seed: int = 0) -> tuple[SplitRange, SplitRange]:
        """Contiguous halves of the (already shuffled-on-disk) training split."""
        if not 0.0 < train_portion <= 1.0:
            raise ValueError(f"train_portion must be in (0, 1], got {train_portion}")
        cut = int(round(self.num_train * train_portion))
        return SplitRange(0, cut), SplitRange(cut, self.num_train)

    # --- streams --------------------------------------------------------------------------------
    def _read(self, split: str, shuffle: bool, seed: int) -> tf.data.Dataset:
        config = tfds.ReadConfig(shuffle_seed=seed, interleave_cycle_length=16 if shuffle else 1)
        return self.builder.as_dataset(split=split, as_supervised=True, shuffle_files=shuffle, read_config=config)

    def _normalize(self, image: tf.Tensor) -> tf.Tensor:
        return (tf.cast(image, tf.float32) / 255.0 - self.mean) / self.std

    def train_batches(self, indices: SplitRange | None, batch_size: int, seed: int, augment: bool,
                      cutout: int = 0) -> tf.data.Dataset:
        split = (indices or SplitRange(0, self.num_train)).tfds_split(self.spec.train_split)
        ds = self._read(split, shuffle=True, seed=seed).repeat()
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
        size, flip = self.image_size, self.spec.flip

        def prepare(image, label):
            if augment:
                image = _random_resized_crop(image, size)
                if flip:
                    image = tf.image.random_flip_left_right(image)
            else:
                image = _centre_crop(image, size)
            image = self._normalize(image)
            if cutout:
                image = augment_lib.cutout(image, cutout, tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32))
            return image, tf.cast(label, tf.int32)

        return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=True) \
            .prefetch(tf.data.AUTOTUNE)

    def eval_batches(self, split: str, indices: SplitRange | None, batch_size: int) -> tf.data.Dataset:
        name = self.spec.test_split if split == "test" else self.spec.train_split
        if indices is not None:
            name = indices.tfds_split(name)
        size = self.image_size
        ds = self._read(name, shuffle=False, seed=0)
        return ds.map(lambda x, y: (self._normalize(_centre_crop(x, size)), tf.cast(y, tf.int32)),
                      num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def representative(self, count: int, seed: int) -> np.ndarray:
        ds = self.eval_batches("train", SplitRange(0, min(count, self.num_train)), count)
        return next(iter(ds))[0].numpy().astype(np.float32)


def _random_resized_crop(image: tf.Tensor, size: int) -> tf.Tensor:
    begin, crop, _ = tf.image.sample_distorted_bounding_box(
        tf.shape(image), tf.zeros([0, 0, 4]), min_object_covered=0.0, aspect_ratio_range=(3 / 4, 4 / 3),
        area_range=(0.08, 1.0), max_attempts=10, use_image_if_no_bounding_boxes=True)
    patch = tf.slice(image, begin, crop)
    return tf.image.resize(patch, [size, size])


def _centre_crop(image: tf.Tensor, size: int) -> tf.Tensor:
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = (size / 0.875) / tf.reduce_min(shape)
    resized = tf.image.resize(image, tf.cast(tf.round(shape * scale), tf.int32))
    return tf.image.resize_with_crop_or_pad(resized, size, size)
