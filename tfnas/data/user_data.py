"""A user's own (image, label) ``tf.data.Dataset`` as a dataset every job can load by name.

The Python API (``tfnas.search_architecture(..., train_data=ds)``) takes a user's pipeline; the drivers take a
dataset *name* (what the binaries' ``--dataset`` gives, what run_config.json records). This module
joins the two: ``register`` reads the pipeline once into memory (uint8 images, as every in-memory
dataset here is held, so the searches' stateless batching and augmentation apply unchanged) and
returns the name ``user:<fingerprint>``, which ``load_image_data`` resolves in this process. The
fingerprint is a hash of the images and labels, so re-running a search on the same data resumes it
and a run on different data is refused as a changed ``dataset`` setting.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import tensorflow as tf

from tfnas.data.registry import DatasetError, DatasetSpec

PREFIX = "user:"
_REGISTERED: dict[str, Any] = {}


def is_user_dataset(name: str) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def _arrays(ds: tf.data.Dataset, what: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images [N, H, W, C] and int64 labels from a batched or unbatched (image, label) dataset."""
    spec = ds.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise DatasetError(f"{what} must yield (image, label) pairs, got elements of {spec}")
    rank = spec[0].shape.rank
    if rank == 3:
        ds = ds.batch(1024)
    elif rank != 4:
        raise DatasetError(f"{what}: images must be [H, W, C] (or batches [B, H, W, C]), got shape {spec[0].shape}")
    images, labels = [], []
    for x, y in ds.as_numpy_iterator():
        images.append(np.asarray(x))
        labels.append(np.asarray(y).reshape(-1))
    if not images:
        raise DatasetError(f"{what} is empty")
    x, y = np.concatenate(images), np.concatenate(labels)
    if np.issubdtype(x.dtype, np.floating):
        top = float(x.max()) if x.size else 0.0
        if float(x.min()) < 0.0 or top > 255.0:
            raise DatasetError(f"{what}: float images must be in [0, 1] or [0, 255] (tfnas normalises them itself); "
                               f"got values in [{float(x.min()):.3g}, {top:.3g}]")
        x = np.round(x * (255.0 if top <= 1.0 else 1.0))
    elif x.dtype != np.uint8:
        raise DatasetError(f"{what}: images must be uint8 or float, got {x.dtype}")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise DatasetError(f"{what}: labels must be non-negative integers (class indices), got {y.dtype}")
    return x.astype(np.uint8), y.astype(np.int64)


def register(train_data: tf.data.Dataset, val_data: tf.data.Dataset | None = None,
             num_classes: int | None = None, holdout_fraction: float = 0.1, seed: int = 0,
             flip: bool = True) -> str:
    """Read a user's datasets into memory; returns the name to pass as ``dataset``.

    ``val_data`` is the split every job reports its test accuracy on (searches cut their own
    held-out part from ``train_data``, as they do for tfds datasets). Without it, a seeded
    ``holdout_fraction`` of ``train_data`` is set aside for that. ``flip``: whether horizontal
    flips keep the label (the standard augmentation flips; not for digits or text).
    """
    from tfnas.data.pipeline import ImageData

    train_x, train_y = _arrays(train_data, "train_data")
    if val_data is not None:
        test_x, test_y = _arrays(val_data, "val_data")
        if test_x.shape[1:] != train_x.shape[1:]:
            raise DatasetError(f"val_data images are {test_x.shape[1:]}, train_data images {train_x.shape[1:]}; "
                               "give both the same size")
    else:
        if not 0.0 < holdout_fraction < 1.0 or int(len(train_y) * holdout_fraction) < 1:
            raise DatasetError("pass val_data, or train_data large enough to hold out a test part")
        perm = np.random.RandomState(seed).permutation(len(train_y))
        cut = int(len(train_y) * holdout_fraction)
        test_x, test_y = train_x[perm[:cut]], train_y[perm[:cut]]
        train_x, train_y = train_x[perm[cut:]], train_y[perm[cut:]]
    classes = int(num_classes or max(int(train_y.max()), int(test_y.max())) + 1)
    if classes < 2:
        raise DatasetError("train_data has one class; a classifier needs at least two")
    if max(int(train_y.max()), int(test_y.max())) >= classes:
        raise DatasetError(f"labels reach {max(int(train_y.max()), int(test_y.max()))} but num_classes={classes}")
    digest = hashlib.sha1(f"{classes},{flip}".encode())
    for a in (train_x, train_y, test_x, test_y):
        digest.update(str(a.shape).encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    name = f"{PREFIX}{digest.hexdigest()[:16]}"
    sample = train_x[:10000].astype(np.float32) / 255.0
    spec = DatasetSpec(name=name, flip=flip)
    _REGISTERED[name] = ImageData(spec, train_x, train_y, test_x, test_y, classes,
                                  sample.mean(axis=(0, 1, 2)), sample.std(axis=(0, 1, 2)) + 1e-6)
    return name


def load(name: str, image_size: int | None = None):
    """The registered data of ``name``, resized when ``image_size`` differs from its size."""
    import dataclasses

    if name not in _REGISTERED:
        raise DatasetError(f"dataset {name!r} was registered by another process; pass the tf.data.Dataset again "
                           "(tfnas.search_architecture(..., train_data=...)) to use it here")
    data = _REGISTERED[name]
    if image_size and data.image_shape[0] != image_size:
        def resize(x: np.ndarray) -> np.ndarray:
            return tf.cast(tf.round(tf.image.resize(x, [image_size, image_size])), tf.uint8).numpy()

        data = dataclasses.replace(data, train_images=resize(data.train_images), test_images=resize(data.test_images))
    return data
