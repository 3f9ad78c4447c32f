"""Input pipelines: normalisation, augmentation (crop, flip, cutout), search splits, resumable order.

Data order and augmentation are stateless functions of (seed, epoch, position), so a run
resumed at epoch k sees exactly the batches an uninterrupted run would have seen. Datasets
that fit in memory (all but ImageNet-scale ones) are held as uint8 arrays and gathered per
example; larger ones stream from tfds with a seeded shuffle buffer (resume then restarts the
order, which is documented in docs/ARCHITECTURE.md).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfnas.data.augment import Augment, cutout, normalize  # noqa: F401  (re-exported)
from tfnas.data.registry import DatasetError, DatasetSpec, get_builder, spec_for
from tfnas.data.streaming import SplitRange, StreamingImageData

EPOCHS_AHEAD = 100_000  # streams are "infinite": fit() stops them by epochs x steps_per_epoch


@dataclasses.dataclass
class ImageData:
    """A dataset held in memory as uint8 images [N, H, W, C] and int labels, plus its spec."""

    spec: DatasetSpec
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    num_classes: int
    mean: np.ndarray
    std: np.ndarray

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.train_images.shape[1:])  # type: ignore[return-value]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def num_train(self) -> int:
        return len(self.train_labels)

    def search_split(self, train_portion: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the train split cut into a weight part and a held-out part (DARTS' 50/50).

        The cut is a fixed seeded permutation so that bi-level search (architecture steps on
        the held-out part) and single-level search (held-out part only for reporting) see the
        same weight data.
        """
        if not 0.0 < train_portion <= 1.0:
            raise ValueError(f"train_portion must be in (0, 1], got {train_portion}")
        n = len(self.train_labels)
        perm = np.random.RandomState(seed).permutation(n)
        cut = int(round(n * train_portion))
        if train_portion < 1.0 and (cut == 0 or cut == n):
            raise ValueError(f"train_portion={train_portion} leaves an empty split of {n} examples")
        return np.sort(perm[:cut]), np.sort(perm[cut:])


MAX_IN_MEMORY_BYTES = 4 << 30
"""Training splits up to this size (uint8) are held in memory; larger ones are streamed."""


def load_image_data(name: str, data_dir: str | None = None, image_size: int | None = None,
                    max_train_examples: int | None = None,
                    max_in_memory_bytes: int = MAX_IN_MEMORY_BYTES) -> "ImageData | StreamingImageData":
    """Load a dataset's train and test splits into memory (uint8), optionally resized.

    Datasets whose training split exceeds ``max_in_memory_bytes`` at the requested size, or whose
    images vary in size without an ``image_size``, are streamed instead (tfnas/data/streaming.py).
    """
    from tfnas.data import folder, user_data

    if folder.is_folder_dataset(name):
        return folder.load_folder(name, image_size)
    if user_data.is_user_dataset(name):
        return user_data.load(name, image_size)
    spec = spec_for(name)
    builder = get_builder(name, data_dir)
    splits = builder.info.splits
    for split in (spec.train_split, spec.test_split):
        if split not in splits:
            raise DatasetError(f"dataset {name!r} has no split {split!r} (it has {sorted(splits)}).")
    num_classes = builder.info.features[builder.info.supervised_keys[1]].num_classes
    image_feature = builder.info.features[builder.info.supervised_keys[0]]
    h, w, channels = image_feature.shape
    num_train = splits[spec.train_split].num_examples
    if max_train_examples:
        num_train = min(num_train, max_train_examples)
    size_bytes = num_train * (image_size or h or 0) * (image_size or w or 0) * (channels or 3)
    if size_bytes > max_in_memory_bytes or ((h is None or w is None) and not image_size):
        return _streaming(spec, builder, num_classes, image_size or 224, channels or 3, num_train,
                          splits[spec.test_split].num_examples)

    def arrays(split: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
        ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
        if limit:
            ds = ds.take(limit)
        if image_size:
            ds = ds.map(lambda x, y: (tf.cast(tf.round(tf.image.resize(x, [image_size, image_size])), tf.uint8), y))
        x, y = tfds.as_numpy(ds.batch(4096).reduce(
            (tf.zeros([0, *_shape(ds)], tf.uint8), tf.zeros([0], tf.int64)),
            lambda acc, b: (tf.concat([acc[0], b[0]], 0), tf.concat([acc[1], tf.cast(b[1], tf.int64)], 0))))
        return x, y

    train_x, train_y = arrays(spec.train_split, max_train_examples)
    test_x, test_y = arrays(spec.test_split, None)
    channels = train_x.shape[-1]
    if spec.mean is not None and len(spec.mean) == channels and not image_size:
        mean, std = np.array(spec.mean, np.float32), np.array(spec.std, np.float32)
    else:
        sample = train_x[:10000].astype(np.float32) / 255.0
        mean, std = sample.mean(axis=(0, 1, 2)), sample.std(axis=(0, 1, 2)) + 1e-6
    return ImageData(spec, train_x, train_y, test_x, test_y, int(num_classes), mean, std)


def _streaming(spec, builder, num_classes, image_size, channels, num_train, num_test) -> StreamingImageData:
    if spec.mean is not None and len(spec.mean) == channels:
        mean, std = np.array(spec.mean, np.float32), np.array(spec.std, np.float32)
    else:
        mean, std = np.full([channels], 0.5, np.float32), np.full([channels], 0.25, np.float32)
    return StreamingImageData(spec, builder, num_classes, image_size, channels, mean, std, num_train, num_test)


def _shape(ds: tf.data.Dataset) -> list[int]:
    shape = ds.element_spec[0].shape
    if not shape.is_fully_defined():
        raise DatasetError("images of varying size: pass --image_size to resize them to one size")
    return list(shape)


def train_stream(data: ImageData, indices: np.ndarray | None, batch_size: int, seed: int,
                 augment: Augment | None = None, start_epoch: int = 0,
                 steps_per_epoch: int | None = None) -> tf.data.Dataset:
    """Endless stream of normalised, augmented training batches, epoch by epoch.

    Epoch ``e`` is a permutation of ``indices`` drawn from (seed, e) and cut to whole batches
    (at most ``steps_per_epoch``); starting at ``start_epoch`` reproduces a resumed run's batches.
    """
    if isinstance(data, StreamingImageData):
        return data.train_batches(indices, batch_size, seed + start_epoch, augment is not None,
                                  augment.cutout if augment is not None else 0)
    indices = np.arange(len(data.train_labels)) if indices is None else np.asarray(indices)
    steps = steps_for(len(indices), batch_size, steps_per_epoch)
    images = tf.constant(data.train_images)
    labels = tf.constant(data.train_labels.astype(np.int32))
    idx = tf.constant(indices.astype(np.int32))
    n = len(indices)
    mean, std = data.mean, data.std

    def epoch(e: tf.Tensor) -> tf.data.Dataset:
        e = tf.cast(e, tf.int32)
        order = tf.argsort(tf.random.stateless_uniform([n], seed=tf.stack([seed, e])))
        picked = tf.gather(idx, order[: steps * batch_size])
        positions = tf.range(steps * batch_size)
        ds = tf.data.Dataset.from_tensor_slices((picked, positions))

        def load(i, pos):
            x = normalize(tf.gather(images, i), mean, std)
            if augment is not None:
                x = augment(x, tf.stack([seed * 7919 + e, pos]))
            return x, tf.gather(labels, i)

        return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size, drop_remainder=True)

    ds = tf.data.Dataset.range(start_epoch, start_epoch + EPOCHS_AHEAD).flat_map(epoch)
    return ds.prefetch(tf.data.AUTOTUNE)


def steps_for(num_examples: int, batch_size: int, steps_per_epoch: int | None = None) -> int:
    """Whole batches per epoch, capped by ``steps_per_epoch``; errors if not even one batch fits."""
    steps = num_examples // batch_size
    if steps == 0:
        raise DatasetError(f"batch size {batch_size} is larger than the {num_examples} examples available; "
                           "lower --batch_size")
    return min(steps, steps_per_epoch) if steps_per_epoch else steps


def eval_dataset(data: ImageData, split: str = "test", indices: np.ndarray | None = None,
                 batch_size: int = 256) -> tf.data.Dataset:
    """Finite, ordered, normalised batches of the test split or of given train indices."""
    if isinstance(data, StreamingImageData):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return data.eval_batches(split, indices, batch_size)
    if split == "test":
        x, y = data.test_images, data.test_labels
    elif split == "train":
        x, y = data.train_images, data.train_labels
    else:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if indices is not None:
        x, y = x[indices], y[indices]
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
    mean, std = data.mean, data.std
    return ds.batch(batch_size).map(lambda a, b: (normalize(a, mean, std), b),
                                    num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def representative_images(data: ImageData, count: int = 100, seed: int = 0) -> np.ndarray:
    """Normalised float32 training images for post-training int8 calibration."""
    if isinstance(data, StreamingImageData):
        return data.representative(count, seed)
    idx = np.random.RandomState(seed).choice(len(data.train_labels), min(count, len(data.train_labels)), replace=False)
    x = data.train_images[idx].astype(np.float32) / 255.0
    return ((x - data.mean) / data.std).astype(np.float32)


def zip_streams(streams: Sequence[tf.data.Dataset]) -> tf.data.Dataset:
    """Pair streams batch by batch (bi-level search: a training batch and a validation batch)."""
    return tf.data.Dataset.zip(tuple(streams)).prefetch(tf.data.AUTOTUNE)
