"""The child ViT: its parameters and FLOPs are the space's, it trains, exports (float, int8) and LiteRT times it."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import tfnas  # noqa: F401
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from tfnas.errors import UserInputError
from tfnas.spaces import base, vit, vit_network
from tfnas.training.child_networks import build_child

keras = tf.keras
MAC_OPS = ("MatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D")


def _profiler_mflops(model: keras.Model, input_shape) -> tuple[float, float]:
    """(multiply-accumulate ops' FLOPs / 2, all FLOPs / 2) of one image, in millions, from TensorFlow's profiler."""
    fn = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([1, *input_shape], tf.float32))
    graph = convert_variables_to_constants_v2(fn).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder(
        tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()).with_empty_output().build()
    profile = tf.compat.v1.profiler.profile(graph, options=options, cmd="op")
    by_type, nodes = {}, list(profile.children)
    while nodes:  # the "op" view nests each op type under the previous one; float_ops is a node's own count
        node = nodes.pop()
        by_type[node.name] = by_type.get(node.name, 0) + node.float_ops
        nodes += list(node.children)
    return sum(by_type.get(t, 0) for t in MAC_OPS) / 2e6, profile.total_float_ops / 2e6


@pytest.mark.parametrize("name, channels, classes, seeds", [("cpu_28", 1, 10, range(2)), ("vitas_1g", 3, 1000, [0])])
def test_analytic_flops_and_params_agree_with_tensorflow(name, channels, classes, seeds):
    space = vit.ViTSpace(vit.space_config(name), channels, classes)
    for seed in seeds:
        genotype = space.genotype(space.sample(np.random.default_rng(seed), 0.4))
        shape = (genotype.image_size, genotype.image_size, channels)
        model = build_child(genotype, classes, shape)
        assert sum(int(np.prod(v.shape)) for v in model.trainable_variables) == genotype.params(channels, classes)
        macs, everything = _profiler_mflops(model, shape)
        assert genotype.mflops(channels, classes) == pytest.approx(macs, rel=0.02)
        assert everything >= macs  # LayerNorm, softmax, GELU and additions come on top (not counted as FLOPs)


def test_child_refuses_another_image_size():
    genotype = vit.ViTGenotype(28, 7, 16, (vit.BlockSpec(1, 16, 32),))
    with pytest.raises(UserInputError, match="pass --image_size=28"):
        vit_network.build_vit(genotype, 10, (32, 32, 1))


def test_vit_genotype_trains_exports_to_float_and_int8_and_litert_times_it(mnist_small, tmp_path, tfds_dir):
    from tfnas.hardware.trained_export import export_model_dir
    from tfnas.hardware import export, litert
    from tfnas.training.trainer import TrainConfig, train_genotype

    space = vit.ViTSpace(vit.space_config("cpu_28"), 1, 10)
    genotype = space.genotype(space.sample(np.random.default_rng(11), 0.5))
    path = str(tmp_path / "genotype.json")
    base.save_genotype(genotype, path)
    summary = train_genotype(TrainConfig(output_dir=str(tmp_path / "train"), genotype=path, data_dir=tfds_dir,
                                         epochs=1, steps_per_epoch=4, batch_size=32, optimizer="adam",
                                         learning_rate=1e-3, weight_decay=0.0, verbose=0))
    assert summary["params"] == genotype.params(1, 10)
    model_dir = summary["model_dir"]
    with open(os.path.join(model_dir, "config.json")) as f:
        assert json.load(f)["genotype"] == genotype.to_json()
    x = (mnist_small.test_images[:16].astype(np.float32) / 255.0 - mnist_small.mean) / mnist_small.std
    from tfnas.training.model_io import load_trained_model

    keras_out = load_trained_model(model_dir).predict(x, verbose=0)
    facts = export_model_dir(model_dir, "tflite")
    np.testing.assert_allclose(export.run_tflite(facts["path"], x), keras_out, atol=1e-4, rtol=1e-4)
    int8 = export_model_dir(model_dir, "int8", num_calibration_images=64, representative_data_dir=tfds_dir)
    assert int8["inputs"][0]["dtype"] == "int8"
    agree = (export.run_tflite(int8["path"], x).argmax(-1) == keras_out.argmax(-1)).mean()
    assert agree >= 0.75
    for tflite in (facts["path"], int8["path"]):
        timing = litert.measure_latency(tflite, num_threads=1, num_runs=5, warmup_runs=1)
        assert timing.median_ms > 0
