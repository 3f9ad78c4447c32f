"""Datasets and pipelines: the embedded data is real and offline, order/augmentation resume exactly."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfnas.data import Augment, DatasetError, DatasetNotPreparedError, eval_dataset, get_builder, train_stream
from tfnas.data.pipeline import cutout


def test_embedded_mnist_is_real_balanced_and_split(mnist):
    assert mnist.train_images.shape == (4000, 28, 28, 1) and mnist.test_images.shape == (1000, 28, 28, 1)
    assert mnist.num_classes == 10
    assert np.bincount(mnist.train_labels).tolist() == [400] * 10
    assert np.bincount(mnist.test_labels).tolist() == [100] * 10
    # real digits: a sizeable fraction of ink pixels, and no image of the test split repeated in train
    assert 0.1 < (mnist.train_images > 128).mean() < 0.3
    train_keys = {x.tobytes() for x in mnist.train_images}
    assert not any(x.tobytes() in train_keys for x in mnist.test_images)


def test_search_split_is_disjoint_and_covers_train(mnist):
    a, b = mnist.search_split(0.5, seed=3)
    assert len(a) == len(b) == 2000
    assert not set(a) & set(b) and len(set(a) | set(b)) == 4000


def test_stream_started_at_a_later_epoch_repeats_the_uninterrupted_batches(mnist):
    aug = Augment.standard(mnist, cutout=8)
    full = [x.numpy() for x, _ in train_stream(mnist, None, 32, seed=5, augment=aug, steps_per_epoch=3).take(6)]
    resumed = [x.numpy() for x, _ in train_stream(mnist, None, 32, seed=5, augment=aug, start_epoch=1,
                                                  steps_per_epoch=3).take(3)]
    for a, b in zip(full[3:], resumed):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(full[0], full[3])  # epochs differ


def test_images_are_normalised(mnist):
    x, _ = next(iter(eval_dataset(mnist, "test", batch_size=1000)))
    assert abs(float(tf.reduce_mean(x))) < 0.1 and 0.8 < float(tf.math.reduce_std(x)) < 1.2


def test_cutout_zeroes_a_square():
    image = tf.ones([16, 16, 1])
    out = cutout(image, 6, tf.constant([1, 2])).numpy()
    zeros = int((out == 0).sum())
    assert 9 <= zeros <= 36  # a 6x6 square, clipped at the borders


def test_unknown_and_unprepared_datasets_fail_with_the_fix(tfds_dir):
    with pytest.raises(DatasetError, match="unknown dataset 'no_such_set'"):
        get_builder("no_such_set", tfds_dir)
    with pytest.raises(DatasetNotPreparedError, match="tfds build cifar10"):
        get_builder("cifar10", tfds_dir)
