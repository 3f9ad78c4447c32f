"""Streamed datasets (the ImageNet path) on the embedded data forced out of memory."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfnas.data import Augment, eval_dataset, load_image_data, representative_images, train_stream
from tfnas.data.streaming import SplitRange, StreamingImageData


def test_large_datasets_stream_with_the_imagenet_recipe(tfds_dir):
    data = load_image_data("mnist_embedded", tfds_dir, image_size=32, max_in_memory_bytes=0)
    assert isinstance(data, StreamingImageData)
    assert data.image_shape == (32, 32, 1) and data.num_train == 4000 and data.num_classes == 10
    weights, held_out = data.search_split(0.5)
    assert (weights, held_out) == (SplitRange(0, 2000), SplitRange(2000, 4000)) and len(held_out) == 2000

    x, y = next(iter(train_stream(data, weights, 64, seed=0, augment=Augment.standard(data))))
    assert x.shape == (64, 32, 32, 1) and y.dtype == tf.int32
    assert set(np.unique(y.numpy())) <= set(range(10)) and len(np.unique(y.numpy())) > 5
    assert abs(float(tf.reduce_mean(x))) < 1.0

    first = [b.numpy() for b, _ in eval_dataset(data, "test", batch_size=250)]
    again = [b.numpy() for b, _ in eval_dataset(data, "test", batch_size=250)]
    assert sum(len(b) for b in first) == 1000
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(again))  # evaluation is ordered
    assert sum(len(b) for b, _ in eval_dataset(data, "train", held_out, batch_size=500)) == 2000
    assert representative_images(data, 16).shape == (16, 32, 32, 1)
