"""TFLite export: float matches Keras, int8 agrees on the class, bad requests fail clearly."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import tfnas  # noqa: F401
import tensorflow as tf

from tfnas.hardware.trained_export import export_model_dir
from tfnas import data as data_lib
from tfnas.hardware import export

keras = tf.keras


@pytest.fixture(scope="module")
def trained_model(mnist):
    """A small conv net trained briefly on the embedded MNIST subset (so its classes are well separated)."""
    tf.keras.utils.set_random_seed(0)
    inp = keras.Input(mnist.image_shape)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inp)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(x)
    x = keras.layers.Conv2D(32, 1, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inp, keras.layers.Dense(mnist.num_classes)(x))
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    images = data_lib.representative_images(mnist, 2000, seed=1)
    idx = np.random.RandomState(1).choice(len(mnist.train_labels), 2000, replace=False)
    # representative_images draws the same seeded indices, so labels line up with the images.
    model.fit(images, mnist.train_labels[idx], epochs=3, batch_size=64, verbose=0)
    return model


def _test_images(mnist, n=64):
    x = mnist.test_images[:n].astype(np.float32) / 255.0
    return ((x - mnist.mean) / mnist.std).astype(np.float32), mnist.test_labels[:n]


def test_float_export_matches_keras(trained_model, mnist, tmp_path):
    path = str(tmp_path / "model.tflite")
    facts = export.export_tflite(trained_model, path)
    assert facts["format"] == "tflite" and facts["size_bytes"] == os.path.getsize(path)
    assert facts["inputs"][0]["shape"] == [1, *mnist.image_shape]
    assert facts["outputs"][0]["shape"] == [1, mnist.num_classes]
    x, _ = _test_images(mnist)
    np.testing.assert_allclose(export.run_tflite(path, x), trained_model.predict(x, verbose=0), atol=1e-4, rtol=1e-4)


def test_int8_export_agrees_on_class(trained_model, mnist, tmp_path):
    path = str(tmp_path / "model_int8.tflite")
    facts = export.export_tflite(trained_model, path, "int8", data_lib.representative_images(mnist, 100))
    assert facts["inputs"][0]["dtype"] == "int8" and facts["outputs"][0]["dtype"] == "int8"
    assert facts["inputs"][0]["scale"] > 0
    x, labels = _test_images(mnist)
    keras_logits = trained_model.predict(x, verbose=0)
    int8_logits = export.run_tflite(path, x)
    assert (keras_logits.argmax(1) == labels).mean() > 0.5  # the model learned something
    assert (int8_logits.argmax(1) == keras_logits.argmax(1)).mean() >= 0.9


def test_int8_needs_representative_data(trained_model, tmp_path):
    with pytest.raises(export.ExportError, match="representative"):
        export.export_tflite(trained_model, str(tmp_path / "m.tflite"), "int8")
    assert not os.path.exists(tmp_path / "m.tflite")


def test_unsupported_format_is_named(trained_model, tmp_path):
    with pytest.raises(export.ExportError, match="unsupported export format 'fp16'.*int8"):
        export.export_tflite(trained_model, str(tmp_path / "m.tflite"), "fp16")


def test_run_tflite_rejects_wrong_input_shape(trained_model, tmp_path):
    path = str(tmp_path / "model.tflite")
    export.export_tflite(trained_model, path)
    with pytest.raises(export.ExportError, match="expects"):
        export.run_tflite(path, np.zeros((2, 32, 32, 3), np.float32))


def test_export_model_dir_calibrates_on_the_training_dataset(trained_model, mnist, tmp_path, tfds_dir):
    model_dir = tmp_path / "train"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"dataset": "mnist_embedded", "data_dir": tfds_dir,
                                                       "image_size": None}))
    facts = export_model_dir(str(model_dir), "int8", num_calibration_images=50, load_model=lambda d: trained_model)
    assert facts["path"] == str(model_dir / "model_int8.tflite") and os.path.exists(facts["path"])
    x, _ = _test_images(mnist, 32)
    agree = (export.run_tflite(facts["path"], x).argmax(1) == trained_model.predict(x, verbose=0).argmax(1)).mean()
    assert agree >= 0.9


def test_export_model_dir_without_dataset_says_what_to_pass(trained_model, tmp_path):
    with pytest.raises(export.ExportError, match="--representative_dataset"):
        export_model_dir(str(tmp_path), "int8", load_model=lambda d: trained_model)
