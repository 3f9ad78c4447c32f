"""Single-path supernet: a fixed path equals its child network; sampling; path-only updates; BN recalibration."""
from __future__ import annotations

import numpy as np
import pytest

import tfnas  # noqa: F401
import tensorflow as tf

from tfnas import data as data_lib
from tfnas.spaces import hurricane
from tfnas.supernets import single_path
from tfnas.supernets.single_path import PathSGD, SinglePathSupernet, batchnorms, light_graph_optimization

keras = tf.keras
CONFIG = hurricane.HurricaneConfig(32, 0.25, input_channels=1, num_classes=10)
SEARCHED = (1, 8, 17)  # one searchable layer in three stages keeps the graph (and the test) small
CANDIDATES = [["mbconv_k3_e3", "shufflenet_k5_se", "sep_conv_3x3_hse"] if i in SEARCHED else ["mbconv_k3_e1"]
              for i in range(20)]


@pytest.fixture(scope="module")
def mnist(tfds_dir):
    return data_lib.load_image_data("mnist_embedded", image_size=32, data_dir=tfds_dir)


@pytest.fixture(scope="module")
def trained(mnist):
    """A supernet after a few SPOS steps, the paths it sampled, and the weights before training."""
    tf.keras.utils.set_random_seed(0)
    supernet = SinglePathSupernet(CONFIG, CANDIDATES, seed=7)
    supernet.compile(optimizer=PathSGD(0.05).attach(supernet),
                     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = {id(v): v.numpy().copy() for v in supernet.trainable_variables}
    stream = data_lib.train_stream(mnist, None, 32, seed=0, steps_per_epoch=4)
    with light_graph_optimization():
        supernet.fit(stream, epochs=1, steps_per_epoch=4, verbose=0)
    paths = np.stack([supernet.sample_path(s).numpy() for s in range(4)])
    return supernet, paths, before


def test_fixed_path_equals_child_with_same_weights(trained, mnist):
    supernet, _, _ = trained
    x = data_lib.representative_images(mnist, 8)
    for choice in range(3):
        ops = [c[choice] if len(c) > 1 else c[0] for c in CANDIDATES]
        child = supernet.export_child(ops)
        path = supernet.path_for(ops)
        np.testing.assert_allclose(supernet(x, training=False, path=path).numpy(), child(x, training=False).numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_sampling_is_stateless_uniform_and_within_range(trained):
    supernet, _, _ = trained
    a, b = supernet.sample_path(5).numpy(), supernet.sample_path(5).numpy()
    np.testing.assert_array_equal(a, b)
    draws = np.stack([supernet.sample_path(s).numpy() for s in range(300)])
    fixed = [i for i in range(20) if i not in SEARCHED]
    assert (draws[:, fixed] == 0).all()
    for i in SEARCHED:
        counts = np.bincount(draws[:, i], minlength=3)
        assert counts.min() > 60, counts  # ~100 each when uniform
    other = SinglePathSupernet(CONFIG, CANDIDATES, seed=8)
    assert not all(np.array_equal(supernet.sample_path(s).numpy(), other.sample_path(s).numpy()) for s in range(10))


def test_training_updates_only_the_sampled_ops(trained):
    supernet, paths, before = trained
    assert int(supernet.step_counter.numpy()) == 4
    for i in SEARCHED:
        layer = supernet.choice_layers[i]
        for j, op in enumerate(layer.candidates):
            changed = any(not np.allclose(v.numpy(), before[id(v)]) for v in op.trainable_variables)
            assert changed == bool((paths[:, i] == j).any()), (i, j, paths[:, i])
    assert not np.allclose(supernet.stem.trainable_variables[0].numpy(), before[id(supernet.stem.trainable_variables[0])])


def test_bn_recalibration_averages_batch_statistics(trained, mnist):
    supernet, paths, _ = trained
    path = paths[0]
    # 1,024 images: the unbiased-variance correction (below) shrinks with the values per BN channel, and at
    # 256 it alone moved the logits by 4-6% (more with one TensorFlow thread's slightly other trained weights)
    batch = data_lib.representative_images(mnist, 1024, seed=3)
    halves = [batch[:512], batch[512:]]
    stem_out = [supernet.stem.conv(h).numpy() for h in halves]
    assert supernet.recalibrate_bn(path, halves) == 2
    bn = supernet.stem.bn
    np.testing.assert_allclose(bn.moving_mean.numpy(), np.mean([o.mean(axis=(0, 1, 2)) for o in stem_out], axis=0),
                               rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(),
                               np.mean([o.var(axis=(0, 1, 2)) for o in stem_out], axis=0), rtol=1e-3, atol=1e-5)
    # With statistics of this very batch, inference mode reproduces training mode (batch statistics)
    # up to the unbiased-variance correction, which matters only where few values feed a BN (1x1 maps).
    assert supernet.recalibrate_bn(path, [batch]) == 1
    inference = supernet(batch, training=False, path=path).numpy()
    training = supernet(batch, training=True, path=path).numpy()
    assert np.abs(inference - training).max() < 0.05 * np.abs(training).max()
    assert (inference.argmax(1) == training.argmax(1)).mean() > 0.9
    with pytest.raises(ValueError, match="at least one"):
        supernet.recalibrate_bn(path, [])


def test_scoring_a_path_leaves_the_supernet_as_trained(trained, mnist):
    """A candidate's score must not depend on which were scored before, nor change what a later stage inherits."""
    supernet, paths, _ = trained
    images = data_lib.representative_images(mnist, 64, seed=5)
    labels = np.zeros([64], np.int32)
    before = [v.numpy() for v in supernet.variables]
    first = supernet.score_path(paths[0], [images], [(images, labels)])
    supernet.score_path(paths[1], [images[:32]], [(images, labels)])
    assert all(np.array_equal(b, v.numpy()) for b, v in zip(before, supernet.variables))
    assert supernet.score_path(paths[0], [images], [(images, labels)]) == first


def test_affine_free_bn_trains_no_scale_or_offset_and_transfers_to_the_child(mnist):
    """SPOS' supernet BN (affine off): scale and offset stay 1 and 0, and the affine child computes the path."""
    tf.keras.utils.set_random_seed(1)
    supernet = SinglePathSupernet(CONFIG, CANDIDATES, seed=3, bn_affine=False)
    supernet.compile(optimizer=PathSGD(0.05).attach(supernet),
                     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    trained = {id(v) for v in supernet.trainable_path_variables()}
    bns = batchnorms(supernet)
    assert len(bns) > 20 and not any(id(bn.gamma) in trained or id(bn.beta) in trained for bn in bns)
    stream = data_lib.train_stream(mnist, None, 32, seed=0, steps_per_epoch=3)
    before = supernet.stem.conv.kernel.numpy().copy()
    with light_graph_optimization():
        supernet.fit(stream, epochs=1, steps_per_epoch=3, verbose=0)
    assert not np.allclose(supernet.stem.conv.kernel.numpy(), before)
    for bn in bns:
        np.testing.assert_array_equal(bn.gamma.numpy(), np.ones(bn.gamma.shape))
        np.testing.assert_array_equal(bn.beta.numpy(), np.zeros(bn.beta.shape))
    ops = [c[1] if len(c) > 1 else c[0] for c in CANDIDATES]
    child = supernet.export_child(ops)
    assert child.get_layer("stem").bn.gamma.trainable  # the child learns its own scale and offset
    x = data_lib.representative_images(mnist, 8)
    np.testing.assert_allclose(supernet(x, training=False, path=supernet.path_for(ops)).numpy(),
                               child(x, training=False).numpy(), rtol=1e-5, atol=1e-5)


def test_zero_init_residual_starts_residual_candidates_as_identity_and_learns_their_scale(mnist):
    """``zero_init_residual``: paths that differ only in residual candidates compute the same function at
    initialisation (without it they do not), and those BN scales train even with affine-free BN."""
    residual = [["mbconv_k3_e3", "mbconv_k5_e6"] if i in (1, 17) else ["mbconv_k3_e1"] for i in range(20)]
    x = data_lib.representative_images(mnist, 8)
    paths = [np.zeros(20, np.int32), np.zeros(20, np.int32)]
    paths[1][[1, 17]] = 1
    outputs = {}
    for zero in (False, True):
        tf.keras.utils.set_random_seed(0)
        supernet = SinglePathSupernet(CONFIG, residual, seed=3, bn_affine=False, zero_init_residual=zero)
        a, b = (supernet(x, training=True, path=p).numpy() for p in paths)  # batch statistics, as in training
        outputs[zero] = np.abs(a - b).max()
    assert outputs[False] > 1e-3
    assert outputs[True] < 1e-6
    gammas = {bn.gamma.ref() for bn in single_path.residual_batchnorms(supernet)}
    assert len(gammas) == 2 * 2 + 14  # both candidates of layers 1 and 17, the 14 other stride-1 layers
    trainable = {v.ref() for v in supernet.trainable_path_variables()}
    assert gammas <= trainable
    assert not any(bn.gamma.ref() in trainable for bn in batchnorms(supernet) if bn.gamma.ref() not in gammas)
    supernet.compile(optimizer=PathSGD(0.05).attach(supernet),
                     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    supernet.use_path(paths[0])
    with light_graph_optimization():
        supernet.fit(data_lib.train_stream(mnist, None, 16, seed=0, steps_per_epoch=2), epochs=1, steps_per_epoch=2,
                     verbose=0)
    taken = supernet.choice_layers[1].candidates[0]
    assert np.abs([bn for bn in batchnorms(taken) if bn.name == "bn_project"][0].gamma.numpy()).max() > 0
    ops = supernet.ops_for(paths[0])
    np.testing.assert_allclose(supernet(x, training=False, path=paths[0]).numpy(),
                               supernet.export_child(ops)(x, training=False).numpy(), rtol=1e-5, atol=1e-5)
