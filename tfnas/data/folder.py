"""A user's own images as a dataset: ``--dataset=folder:/path/to/images``, no tfds builder to write.

Layout (tfds' ImageFolder): ``<root>/<split>/<label>/<image file>``. The training split is
``train``; the test split is ``test``, ``val`` or ``validation`` when there is one, else a seeded
20% of the training images (per class, so every class is in both). Classes are the label folder
names in sorted order; the image size is the most common size among the training images (others
are resized to it) unless an ``image_size`` is asked for; images are greyscale (1 channel) when
every one is, else RGB. Normalisation statistics are measured on the training images.

Bad folders get one clear error before anything else is read: a missing root, no images, a single
class, a test split with labels the training split lacks, unreadable files (the first few named).
"""
from __future__ import annotations

import collections
import os
from typing import Sequence

import numpy as np

from tfnas.data.registry import DatasetError, DatasetSpec

PREFIX = "folder:"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
TEST_SPLITS = ("test", "val", "validation")
HELD_OUT = 0.2
MAX_BYTES = 4 << 30


def is_folder_dataset(name: str) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def _images(split_dir: str) -> dict[str, list[str]]:
    out = {}
    for label in sorted(os.listdir(split_dir)):
        path = os.path.join(split_dir, label)
        if os.path.isdir(path):
            out[label] = sorted(os.path.join(path, f) for f in os.listdir(path)
                                if f.lower().endswith(IMAGE_EXTENSIONS))
    return out


def scan(name: str) -> tuple[str, dict[str, list[str]], dict[str, list[str]] | None]:
    """(root, train files per label, test files per label or None) with the folder's errors raised."""
    root = os.path.expanduser(name[len(PREFIX):])
    if not os.path.isdir(root):
        raise DatasetError(f"--dataset={name}: {root!r} is not a directory; expected <root>/train/<label>/<image>")
    train_dir = os.path.join(root, "train")
    if not os.path.isdir(train_dir):
        raise DatasetError(f"--dataset={name}: no {train_dir!r}; expected <root>/train/<label>/<image> "
                           f"(and optionally <root>/test/<label>/<image>)")
    train = {k: v for k, v in _images(train_dir).items() if v}
    if not train:
        raise DatasetError(f"--dataset={name}: no images ({', '.join(IMAGE_EXTENSIONS)}) in {train_dir}/<label>/")
    if len(train) < 2:
        raise DatasetError(f"--dataset={name}: only one class ({next(iter(train))!r}) under {train_dir}; a classifier "
                           "needs at least two label folders")
    test = None
    for split in TEST_SPLITS:
        if os.path.isdir(os.path.join(root, split)):
            test = {k: v for k, v in _images(os.path.join(root, split)).items() if v}
            unknown = sorted(set(test) - set(train))
            if unknown:
                raise DatasetError(f"--dataset={name}: the {split} split has labels the train split lacks: {unknown}")
            break
    return root, train, test


def _read(paths: Sequence[str]) -> list:
    from PIL import Image

    images, bad = [], []
    for path in paths:
        try:
            with Image.open(path) as im:
                im.load()
                images.append(im.copy())
        except Exception as e:  # PIL raises several kinds for unreadable files
            bad.append(f"{path} ({type(e).__name__})")
    if bad:
        raise DatasetError(f"{len(bad)} unreadable image file(s): {', '.join(bad[:3])}"
                           f"{' ...' if len(bad) > 3 else ''}; remove or replace them")
    return images


def load_folder(name: str, image_size: int | None = None, seed: int = 0):
    """The folder's train and test splits in memory (uint8), as ``tfnas.data.ImageData``."""
    from PIL import Image

    from tfnas.data.pipeline import ImageData

    root, train, test = scan(name)
    classes = sorted(train)
    label_of = {c: i for i, c in enumerate(classes)}

    def flat(files: dict[str, list[str]]) -> tuple[list[str], np.ndarray]:
        paths = [p for c in classes for p in files.get(c, [])]
        return paths, np.array([label_of[c] for c in classes for _ in files.get(c, [])], np.int64)

    train_paths, train_labels = flat(train)
    train_images = _read(train_paths)
    if test is not None:
        test_paths, test_labels = flat(test)
        test_images = _read(test_paths)
    else:  # a seeded held-out part of every class
        rng = np.random.RandomState(seed)
        held = np.zeros(len(train_labels), bool)
        for c in range(len(classes)):
            idx = np.flatnonzero(train_labels == c)
            if len(idx) < 2:
                raise DatasetError(f"--dataset={name}: class {classes[c]!r} has {len(idx)} image; with no test "
                                   "split every class needs at least 2 (one is held out for testing)")
            held[rng.choice(idx, max(1, int(round(HELD_OUT * len(idx)))), replace=False)] = True
        test_images = [im for im, h in zip(train_images, held) if h]
        test_labels = train_labels[held]
        train_images = [im for im, h in zip(train_images, held) if not h]
        train_labels = train_labels[~held]
    grey = all(im.mode in ("L", "1", "I;16", "I") for im in train_images + test_images)
    if image_size:
        size = (int(image_size), int(image_size))
    else:
        size = collections.Counter(im.size for im in train_images).most_common(1)[0][0]
    channels = 1 if grey else 3
    if (len(train_images) + len(test_images)) * size[0] * size[1] * channels > MAX_BYTES:
        raise DatasetError(f"--dataset={name}: the images take more than {MAX_BYTES >> 30} GiB in memory at "
                           f"{size[0]}x{size[1]}; pass a smaller --image_size or prepare them as a tfds dataset")

    def array(images) -> np.ndarray:
        out = np.empty((len(images), size[1], size[0], channels), np.uint8)
        for i, im in enumerate(images):
            im = im.convert("L" if grey else "RGB")
            if im.size != size:
                im = im.resize(size, Image.BILINEAR)
            out[i] = np.asarray(im, np.uint8).reshape(size[1], size[0], channels)
        return out

    x_train, x_test = array(train_images), array(test_images)
    sample = x_train[:10000].astype(np.float32) / 255.0
    mean, std = sample.mean(axis=(0, 1, 2)), sample.std(axis=(0, 1, 2)) + 1e-6
    spec = DatasetSpec(name, flip=True)
    return ImageData(spec, x_train, train_labels, x_test, test_labels, len(classes), mean, std)


def geometry(name: str) -> tuple[int, int]:
    """(image channels, classes) of a folder dataset, reading one image (for latency tables)."""
    from PIL import Image

    _, train, _ = scan(name)
    first = next(iter(train.values()))[0]
    with Image.open(first) as im:
        return (1 if im.mode in ("L", "1", "I;16", "I") else 3), len(train)
