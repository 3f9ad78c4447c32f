"""LCE export of a trained BATS network: binary convolutions become LCE binary ops, the file is much
smaller than the float export, and LCE's interpreter agrees with the Keras model."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfnas.hardware.trained_export import export_model_dir
from tfnas import data as data_lib
from tfnas.hardware import export as export_lib
from tfnas.hardware import lce
from tfnas.ops import binary_ops
from tfnas.spaces import bats as bats_space
from tfnas.spaces.base import save_genotype
from tfnas.training.model_io import load_trained_model
from tfnas.training.trainer import TrainConfig, train_genotype

keras = tf.keras

# every BATS op, on stride-1 and stride-2 edges (dilated stride-2 included)
GENOTYPE = bats_space.BatsGenotype(
    normal=(("group_conv_3x3", 0), ("dil_group_conv_5x5", 1), ("skip_connect", 0), ("group_conv_5x5", 2),
            ("avg_pool_3x3", 1), ("dil_group_conv_3x3", 3), ("max_pool_3x3", 2), ("skip_connect", 4)),
    reduce=(("group_conv_3x3", 0), ("dil_group_conv_3x3", 1), ("skip_connect", 0), ("dil_group_conv_5x5", 2),
            ("max_pool_3x3", 1), ("group_conv_5x5", 3), ("avg_pool_3x3", 2), ("skip_connect", 1)))
IMAGE_SIZE = 12  # 12 -> 6 -> 3 px cells: the export and its checks do not depend on the image size


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tfds_dir):
    """A BATS network at a deployable width (64 channels: grouped convs of 2 x 32) trained briefly with
    the two-stage binary recipe through train_genotype, as binaries.train --binary runs it. 60 steps at
    12 px learn enough to tell agreement from noise (accuracy 0.50, chance 0.1); what the export checks
    depend on is the width, not the image size."""
    root = tmp_path_factory.mktemp("lce")
    genotype_path = str(root / "genotype.json")
    save_genotype(GENOTYPE, genotype_path)
    config = TrainConfig(output_dir=str(root / "train"), genotype=genotype_path, dataset="mnist_embedded",
                         data_dir=tfds_dir, image_size=IMAGE_SIZE, batch_size=32, epochs=2, steps_per_epoch=30,
                         layers=3, init_channels=64, auxiliary=False, drop_path=0.0, cutout=0, optimizer="adam",
                         learning_rate=2e-3, weight_decay=0.0, binary=True, verbose=0,
                         graph_optimization="light")  # Grappler off: the export does not depend on it
    summary = train_genotype(config)
    data = data_lib.load_image_data("mnist_embedded", tfds_dir, IMAGE_SIZE)
    x = ((data.test_images.astype(np.float32) / 255.0 - data.mean) / data.std).astype(np.float32)
    return summary, load_trained_model(summary["model_dir"]), x, data.test_labels


@pytest.fixture(scope="module")
def keras_logits(trained):
    """The rebuilt Keras model's logits on the 1,000 test images (predicted once, read by two tests)."""
    _, model, x, _ = trained
    return model.predict(x, verbose=0)


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    summary, model, _, _ = trained
    path = str(tmp_path_factory.mktemp("lce_out") / "model_lce.tflite")
    # the model directory's export, of the model rebuilt from it above (not rebuilt a third time)
    facts = export_model_dir(summary["model_dir"], "lce", path, load_model=lambda model_dir: model)
    with open(path, "rb") as f:
        return facts, f.read()


def test_rebuilt_model_is_the_trained_one(trained, keras_logits):
    summary, _, _, y = trained
    accuracy = float(np.mean(np.argmax(keras_logits, -1) == y))
    # A binary network's sign() turns float summation-order noise (thread scheduling in the conv
    # kernels) into a flipped bit now and then, so one or two of the 1,000 test images may change class
    # between two evaluations of the very same weights (CI saw 0.637 vs 0.638). A model rebuilt wrong
    # (missing weights, wrong scaling) is off by far more than 3 images.
    assert accuracy == pytest.approx(summary["test_accuracy"], abs=0.003)
    # it learned something (chance is 0.1; measured 0.50), so the agreement test below is not about noise
    assert accuracy > 0.3


def test_every_binary_conv_is_an_lce_binary_op(trained, exported):
    _, model, _, _ = trained
    facts, flatbuffer = exported
    binary = binary_ops.binary_layers(model)
    grouped = [l for l in binary if l.groups > 1]
    assert grouped, "the test network must contain grouped binary convolutions"
    ops = lce.operator_counts(flatbuffer)
    assert ops.get("LceBconv2d", 0) == len(binary) == facts["lce_binary_ops"] == facts["binary_layers"]
    assert "LceDequantize" not in ops  # a binary conv LCE could not convert would leave one
    real = [l for l in _layers(model) if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense)) and l not in binary]
    assert ops.get("CONV_2D", 0) + ops.get("FULLY_CONNECTED", 0) == len(real)  # stem, downsampling, classifier
    assert facts["binary_macs"] > 10 * facts["real_macs"] > 0 and facts["bops"] == facts["binary_macs"]
    assert "Ratio of MACs that are binarized" in facts["larq_summary"]


def test_binary_file_is_at_least_8x_smaller_than_float(trained, exported, tmp_path):
    _, model, _, _ = trained
    facts, flatbuffer = exported
    float_facts = export_lib.export_tflite(model, str(tmp_path / "float.tflite"))
    assert float_facts["size_bytes"] >= 8 * len(flatbuffer) == 8 * facts["size_bytes"]


def test_lce_interpreter_agrees_with_keras(trained, keras_logits, exported):
    _, _, x, _ = trained
    _, flatbuffer = exported
    keras_class = np.argmax(keras_logits, -1)
    lce_class = np.argmax(lce.run_lce(flatbuffer, x), -1)
    assert len(x) == 1000
    assert np.mean(keras_class == lce_class) >= 0.99


def test_lce_export_of_a_float_model_is_refused(tmp_path):
    inp = keras.Input((8, 8, 1))
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Flatten()(keras.layers.Conv2D(4, 3)(inp))))
    with pytest.raises(lce.NotABinaryModel, match="no binary layer.*--format=tflite"):
        export_lib.export_tflite(model, str(tmp_path / "m.tflite"), fmt="lce")


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer
