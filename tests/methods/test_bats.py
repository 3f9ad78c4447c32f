"""BATS search: temperature schedule, binarisation schedule, distillation, and the search driver."""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tfnas.errors import ConfigError
from tfnas.methods import bats
from tfnas.methods.bats import (BatsSearchConfig, BatsSingleLevelSearch, BinarizationSchedule,
                                TemperatureSchedule, binarization_fraction, temperature_at)
from tfnas.spaces import bats as bats_space
from tfnas.supernets.bats_supernet import BatsSupernet

keras = tf.keras

TINY = dict(init_channels=4, layers=3, groups=2, shuffle_groups=2, checkpoint=False)


def test_temperature_schedules():
    assert temperature_at(3, 10, 1.0, 0.1, "constant") == 1.0
    for schedule in ("linear", "cosine", "exponential"):
        assert temperature_at(0, 5, 1.0, 0.1, schedule) == pytest.approx(1.0)
        assert temperature_at(4, 5, 1.0, 0.1, schedule) == pytest.approx(0.1)
        assert temperature_at(9, 5, 1.0, 0.1, schedule) == pytest.approx(0.1)  # resumed with more epochs: held
    assert temperature_at(2, 5, 1.0, 0.2, "linear") == pytest.approx(0.6)
    assert temperature_at(2, 5, 1.0, 0.2, "cosine") == pytest.approx(0.6)
    assert temperature_at(2, 5, 1.0, 0.25, "exponential") == pytest.approx(0.5)
    assert temperature_at(1, 5, 1.0, 0.2, "cosine") > temperature_at(1, 5, 1.0, 0.2, "linear")
    with pytest.raises(ConfigError, match="temperature_schedule"):
        temperature_at(0, 5, 1.0, 0.1, "step")


def test_temperature_schedule_changes_the_architecture_softmax():
    net = BatsSupernet(10, temperature=1.0, **TINY)
    net.alphas["normal"].assign(tf.random.stateless_normal([14, 8], seed=[0, 1]))
    callback = TemperatureSchedule(net, epochs=5, initial=1.0, final=0.1, schedule="exponential")
    entropies = []
    for epoch in range(5):
        callback.on_epoch_begin(epoch)
        t = temperature_at(epoch, 5, 1.0, 0.1, "exponential")
        assert float(net.temperature.numpy()) == pytest.approx(t)
        want = tf.nn.softmax(net.alphas["normal"] / t, axis=-1).numpy()
        np.testing.assert_allclose(net.op_weights()["normal"].numpy(), want, rtol=1e-5)
        p = net.op_probabilities()["normal"]
        entropies.append(float(-(p * np.log(p)).sum(-1).mean()))
    assert all(a > b for a, b in zip(entropies, entropies[1:]))  # lower T: sharper distributions


def test_a_constant_temperature_under_adam_is_a_larger_architecture_learning_rate(mnist_small):
    """Adam normalises alpha's gradient, so the 1/T that softmax(alpha / T) puts into it cancels and the
    logits alpha / T move at lr / T per step: T = 0.25 at lr is the same search as T = 1 at 4 lr (alphas
    started at alpha0 / T). Why a constant temperature changed nothing in a search whose alphas barely
    move, and why BATS' sharpening needs a schedule (docs/METHODS.md, BATS)."""
    x = ((mnist_small.train_images[:16, ::4, ::4].astype(np.float32) / 255.0) - 0.13) / 0.31
    y = mnist_small.train_labels[:16]
    models = []
    for temperature, lr in ((0.25, 1e-2), (1.0, 4e-2)):
        net = BatsSupernet(10, binarize="none", temperature=temperature, **TINY)
        # epsilon ~0: the equivalence holds up to Adam's epsilon against the gradient's size
        model = BatsSingleLevelSearch(net, keras.optimizers.Adam(lr, beta_1=0.5, epsilon=1e-12), arch_weight_decay=0.0)
        model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
        net(tf.zeros([1, 8, 8, 1]))
        model.build_optimizers()
        models.append(model)
    cold, warm = models
    warm.supernet.set_weights(cold.supernet.get_weights())
    warm.supernet.temperature.assign(1.0)
    for name in cold.supernet.cell_types:
        warm.supernet.alphas[name].assign(cold.supernet.alphas[name] / 0.25)
    tf.config.run_functions_eagerly(True)
    try:
        for _ in range(3):
            for model in models:
                model.train_step((x, y))
    finally:
        tf.config.run_functions_eagerly(False)
    for name in cold.supernet.cell_types:
        moved = cold.supernet.op_weights()[name].numpy()
        assert np.abs(moved - 1.0 / 8).max() > 1e-3  # the architecture did move
        np.testing.assert_allclose(warm.supernet.op_weights()[name].numpy(), moved, rtol=1e-4, atol=1e-6)


def test_binarisation_schedule():
    assert [binarization_fraction(e, 4) for e in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert binarization_fraction(0, 0) == 1.0
    net = BatsSupernet(10, binarize="activations", progressive=True, **TINY)
    BinarizationSchedule(net, 2).on_epoch_begin(1)
    assert float(net.activation_binarization.numpy()) == 0.5
    assert float(net.weight_binarization.numpy()) == 0.0  # real weights in "activations" mode


def _search_model(cls, teacher=None, kd_weight=0.0, seed=0):
    tf.keras.utils.set_random_seed(seed)
    net = BatsSupernet(10, binarize="weights_and_activations", seed=seed, **TINY)
    model = cls(net, keras.optimizers.Adam(3e-3, beta_1=0.5), teacher=teacher, kd_weight=kd_weight)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    net(tf.zeros([1, 8, 8, 1]))
    model.build_optimizers()
    return model


def _state(model):
    return [v.numpy() for v in model.supernet.weight_variables + model.supernet.arch_variables]


@pytest.mark.parametrize("cls", [BatsSingleLevelSearch])
def test_distillation_with_weight_zero_is_plain_search(cls, mnist_small):
    """Bi-level DARTS computes every pass with the same (distilling) loss function as this one."""
    x = ((mnist_small.train_images[:16, ::4, ::4].astype(np.float32) / 255.0) - 0.13) / 0.31
    y = mnist_small.train_labels[:16]
    data = (x, y) if cls is BatsSingleLevelSearch else ((x[:8], y[:8]), (x[8:], y[8:]))
    teacher = BatsSupernet(10, binarize="none", seed=7, **TINY)
    teacher(tf.zeros([1, 8, 8, 1]))
    plain = _search_model(cls)
    kd0 = _search_model(cls, teacher, 0.0)
    kd1 = _search_model(cls, teacher, 1.0)
    kd0.supernet.set_weights(plain.supernet.get_weights())
    kd1.supernet.set_weights(plain.supernet.get_weights())
    tf.config.run_functions_eagerly(True)  # tiny network: eager beats tracing three models
    try:
        for _ in range(2):
            logs = [m.train_step(data) for m in (plain, kd0, kd1)]
    finally:
        tf.config.run_functions_eagerly(False)
    assert "kd_loss" in logs[1] and float(logs[1]["kd_loss"]) > 0  # the teacher really ran
    for a, b in zip(_state(plain), _state(kd0)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(a, b, atol=1e-6) for a, b in zip(_state(plain), _state(kd1)))


def test_a_supernet_already_one_hot_on_its_derived_cell_has_no_discretization_gap():
    """The gap compares the supernet with the network it derives, measured alike (BN on batch statistics):
    once the softmax is the derived one-hot, the two are the same network."""
    tf.keras.utils.set_random_seed(0)
    x = tf.random.stateless_normal([64, 8, 8, 1], seed=[5, 6])
    net = BatsSupernet(10, binarize="weights_and_activations", **TINY)
    net(x[:1])
    derived = bats_space.derived_op_weights(net.genotype())
    with net.computing(derived):  # labels: what the derived network predicts (one batch: the same BN statistics)
        y = tf.argmax(net(x, training=True), axis=-1, output_type=tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    assert bats.batch_statistics_accuracy(net, dataset, derived) == 1.0
    assert bats.batch_statistics_accuracy(net, dataset) < 1.0  # near-uniform weights: another network
    for name, w in derived.items():
        net.alphas[name].assign(100.0 * w)
    assert bats.batch_statistics_accuracy(net, dataset) == 1.0


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="sigmoid"):
        BatsSearchConfig(output_dir=str(tmp_path), arch_activation="sigmoid").validate()
    with pytest.raises(ConfigError, match="--teacher"):
        BatsSearchConfig(output_dir=str(tmp_path), teacher=str(tmp_path / "nope")).validate()
    BatsSearchConfig(output_dir=str(tmp_path), teacher=str(tmp_path / "nope"), kd_weight=0).validate()
    assert BatsSearchConfig(output_dir=str(tmp_path), naive=True).space == "darts"


def _events(logdir: str) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[float]] = {}
    for path in glob.glob(os.path.join(logdir, "events.*")):
        acc = EventAccumulator(path, size_guidance={"tensors": 0})
        acc.Reload()
        for tag in acc.Tags()["tensors"]:
            values = [tf.make_ndarray(e.tensor_proto) for e in acc.Tensors(tag)]
            out.setdefault(tag, []).extend(float(v) for v in values if v.ndim == 0 and v.dtype.kind == "f")
    return out


def test_search_with_teacher_writes_outputs_and_resumes(tmp_path, tfds_dir, monkeypatch):
    # The discretisation gap's images, two whole batches (1,024 in 4 batches of 256 by default): its
    # three eager passes over them, in both searches and both resumes, were half of this test's time.
    monkeypatch.setattr(bats, "DISCRETIZATION_IMAGES", 128)
    monkeypatch.setattr(bats, "DISCRETIZATION_BATCH", 64)
    out = str(tmp_path / "bats")
    config = BatsSearchConfig(output_dir=out, dataset="mnist_embedded", data_dir=tfds_dir, image_size=8, epochs=2,
                              steps_per_epoch=2, validation_steps=1, batch_size=8, layers=3, init_channels=4,
                              groups=2, shuffle_groups=2, teacher_epochs=1, temperature=1.0,
                              temperature_schedule="linear", final_temperature=0.25, checkpoint_cells=False,
                              verbose=0)
    tf.config.run_functions_eagerly(True)  # a tiny network: eager steps beat tracing two supernets
    try:
        summary = bats.run_bats_search(config)
        again = bats.run_bats_search(config)  # resumes: nothing left to train, same result
    finally:
        tf.config.run_functions_eagerly(False)
    with open(os.path.join(out, "genotype.json")) as f:
        assert json.load(f)["space"] == "bats"
    assert summary["method"] == "bats" and summary["teacher"]["kind"] == "supernet"
    assert os.path.exists(os.path.join(out, "teacher", "genotype.json"))
    assert summary["total_wall_time_s"] >= summary["wall_time_s"] + summary["teacher"]["wall_time_s"] - 0.01
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2]
    assert all("kd_loss" in e and "parameter_free_ops" in e and "entropy_normal" in e for e in summary["epochs"])
    events = _events(os.path.join(out, "tensorboard", "architecture"))
    assert events["architecture/temperature"][-2:] == pytest.approx([1.0, 0.25])
    assert "genotype/parameter_free_ops" in events and "entropy/normal_mean" in events
    assert again["genotype"] == summary["genotype"] and again["wall_time_s"] == summary["wall_time_s"]
    gap = summary["discretization"]
    assert gap["genotype"] == summary["genotype"] and gap["images"] == 128 and gap["batch_norm"] == "batch statistics"
    assert gap["gap"] == pytest.approx(gap["supernet_accuracy"] - gap["derived_accuracy"], abs=1e-4)
    assert again["discretization"] == gap  # measured on the restored final supernet: the same on a resumed run
    assert summary["architecture"]["groups"] == 2  # the deployed network's (64 initial channels -> 2 groups)


def test_warmup_keeps_the_architecture_until_the_weights_trained_then_the_schedule_sharpens_it(
        tmp_path, tfds_dir, monkeypatch):
    """What --arch_warmup_epochs and an annealed temperature promise: the architecture does not move in
    the warm-up epochs, moves after, and the genotype (and the discretisation gap) is derived at the
    temperature the schedule ends at."""
    monkeypatch.setattr(bats, "DISCRETIZATION_IMAGES", 64)
    monkeypatch.setattr(bats, "DISCRETIZATION_BATCH", 64)
    config = BatsSearchConfig(output_dir=str(tmp_path / "bats"), method="single_darts", dataset="mnist_embedded",
                              data_dir=tfds_dir, image_size=8, epochs=3, steps_per_epoch=2, validation_steps=1,
                              batch_size=8, layers=3, init_channels=4, groups=2, shuffle_groups=2, kd_weight=0.0,
                              arch_learning_rate=0.1, arch_warmup_epochs=1, temperature=1.0,
                              temperature_schedule="exponential", final_temperature=0.2, checkpoint_cells=False,
                              verbose=0)
    initial = bats.build_supernet(config, 10)
    initial(tf.zeros([1, 8, 8, 1]))
    tf.config.run_functions_eagerly(True)  # a tiny network: eager steps beat tracing
    try:
        summary = bats.run_bats_search(config)
    finally:
        tf.config.run_functions_eagerly(False)
    first = summary["epochs"][0]
    for name in initial.cell_types:
        alpha0 = initial.alphas[name].numpy()
        # after the warm-up epoch (T = 1): the initial architecture, weight decay included
        np.testing.assert_allclose(first["op_weights"][name], tf.nn.softmax(alpha0, axis=-1).numpy(), atol=2e-5)
        assert np.abs(np.asarray(summary["architecture"]["alphas"][name]) - alpha0).max() > 0.05  # then it moved
    assert summary["architecture"]["temperature"] == pytest.approx(0.2)
    assert summary["discretization"]["temperature"] == pytest.approx(0.2)  # the restored supernet's T
    assert summary["final_temperature_used"] == pytest.approx(0.2)
