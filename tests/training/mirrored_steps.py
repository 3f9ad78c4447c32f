"""One train step of every supernet on one device and under MirroredStrategy on 2 virtual CPUs.

Run as a script (``python tests/training/mirrored_steps.py OUT.json [case ...]``) by
tests/training/test_distribution_mirrored.py: the two logical CPU devices must be configured
before TensorFlow initialises its devices, which the pytest process has long done. For each case
it builds the model twice from the same initial values, takes one step on the same global batch
(``model.fit``, one step: Keras' own distributed train function) and writes, per case, how far the
mirrored step's variables are from the one-device step's, whether the two replicas hold identical
copies, and the path each replica drew.

HURRICANE's single-path supernet runs BatchNorm inside the sampled branch, where tf.distribute
cannot all-reduce: its BN statistics are per replica, so its reference is the one-device step whose
loss is the mean of the two halves' losses, each half normalised with its own statistics.
"""
from __future__ import annotations

import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import tfnas  # noqa: E402,F401  (Keras 2 before TensorFlow)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

REPLICAS = 2
BATCH = 8 * REPLICAS
keras = tf.keras


def configure_devices() -> list[str]:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * REPLICAS)
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def _images(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (BATCH, *shape)).astype(np.float32), rng.integers(0, 10, BATCH).astype(np.int32)


# --- the cases: (build model in the current strategy scope, global batch) ----------------------------
def _differentiable(method: str, order: int = 1):
    from tfnas.methods.differentiable import BilevelSearch, SingleLevelSearch
    from tfnas.supernets.differentiable import NasBench201Supernet

    # a conv (with its BN), a pool, skip and none: every kind of edge, fewer ops to trace
    net = NasBench201Supernet(10, init_channels=4, layers=1,
                              ops=("none", "skip_connect", "nor_conv_1x1", "avg_pool_3x3"))
    net(tf.zeros([1, 8, 8, 1]))
    arch = keras.optimizers.Adam(3e-3, beta_1=0.5, epsilon=1e-8)
    model = SingleLevelSearch(net, arch) if method == "single" else BilevelSearch(net, arch, order=order)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    model.build_optimizers()
    return model


def _bats():
    # The single-level step: what is BATS' own under a strategy (binary cells, their synchronised
    # affine-free BN, grouped convolutions) is the supernet, and one forward-backward pass holds all of
    # it; the bi-level step's mirrored mechanics (two batches, two updates) are darts_first_order's case.
    # It halves the traced graph, which is most of this case's time (three traces: one device, two replicas).
    from tfnas.methods.bats import BatsSingleLevelSearch
    from tfnas.supernets.bats_supernet import BatsSupernet

    net = BatsSupernet(10, init_channels=8, layers=3, checkpoint=False)
    net(tf.zeros([1, 8, 8, 1]))
    model = BatsSingleLevelSearch(net, keras.optimizers.Adam(3e-3, beta_1=0.5, epsilon=1e-8))
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    model.build_optimizers()
    return model


SPOS_LAYERS = (1, 8, 17)


def _spos():
    from tfnas.spaces import hurricane
    from tfnas.supernets.single_path import PathSGD, SinglePathSupernet

    # three choices of three plain candidates (each with BN inside its branch): the paths drawn on the
    # replicas agree by chance 1 time in 27; squeeze-excite variants add branch-function tracing, not
    # anything distribution-specific (half this case's time)
    candidates = [["mbconv_k3_e1", "mbconv_k5_e1", "sep_conv_3x3"] if i in SPOS_LAYERS else ["mbconv_k3_e1"]
                  for i in range(hurricane.NUM_LAYERS)]
    net = SinglePathSupernet(hurricane.HurricaneConfig(32, 0.25, input_channels=1, num_classes=10), candidates, seed=3)
    net.compile(optimizer=PathSGD(0.1).attach(net), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return net


def _vitas():
    from tfnas.spaces import vit
    from tfnas.supernets.super_transformer import PathAdamW, SuperTransformer

    space = vit.ViTSpace(vit.space_config("cpu_28", num_slots=2), input_channels=1, num_classes=10)
    net = SuperTransformer(space, "bcnet", seed=3, cutmix_alpha=1.0)
    net.set_identity_probability(0.2)
    net.compile(optimizer=PathAdamW(1e-2).attach(net))
    return net


CASES = {
    "single_darts": (lambda: _differentiable("single"), (8, 8, 1), False),
    "darts_first_order": (lambda: _differentiable("darts", 1), (8, 8, 1), True),
    "darts_second_order": (lambda: _differentiable("darts", 2), (8, 8, 1), True),
    "bats": (_bats, (8, 8, 1), False),
    "hurricane_spos": (_spos, (32, 32, 1), False),
    "vitas": (_vitas, (28, 28, 1), False),
}


def _data(case: str):
    _, shape, bilevel = CASES[case]
    train = _images(shape, 1)
    return (train, _images(shape, 2)) if bilevel else train


def _dataset(data):
    return tf.data.Dataset.from_tensor_slices(data).batch(BATCH).repeat()


def _sampled(model) -> bool:
    return hasattr(model, "next_path")


def _trained(model):
    return model.trainable_variables


def build(case: str, strategy):
    from tfnas.supernets.replicas import synchronize_batch_norm

    with strategy.scope():
        tf.keras.utils.set_random_seed(0)
        model = CASES[case][0]()
        if strategy.num_replicas_in_sync > 1 and not _sampled(model):
            synchronize_batch_norm(model.supernet)
    return model


def sliced_reference_step(model, data) -> None:
    """The single-path step with per-replica BN statistics, on one device: the halves' mean loss."""
    images, labels = (tf.constant(a) for a in data)
    path = model.next_path(model.step_counter.read_value())
    model.path.assign(path)
    variables = model.trainable_path_variables()
    half = BATCH // REPLICAS
    with tf.GradientTape() as tape:
        losses = [model.training_loss(images[i * half:(i + 1) * half], labels[i * half:(i + 1) * half], path)[1]
                  for i in range(REPLICAS)]
        loss = tf.add_n(losses) / REPLICAS
    grads = [tf.zeros_like(v) if g is None else g for g, v in zip(tape.gradient(loss, variables), variables)]
    model.optimizer.apply_path_update(list(zip(grads, variables)))
    model.step_counter.assign_add(1)


def run_case(case: str, strategy) -> dict:
    started, cpu_started = time.time(), time.process_time()
    data = _data(case)
    single = build(case, tf.distribute.get_strategy())
    mirrored = build(case, strategy)
    for target, source in zip(mirrored.weights, single.weights):  # the same start, whatever the RNG did
        target.assign(source.numpy())
    before = [v.numpy().copy() for v in _trained(single)]
    out: dict = {}
    if _sampled(single):
        paths = strategy.run(lambda: mirrored.next_path(mirrored.step_counter.read_value()))
        out["replica_paths"] = [p.numpy().tolist() for p in strategy.experimental_local_results(paths)]
        out["single_path"] = single.next_path(single.step_counter.read_value()).numpy().tolist()
    if case == "hurricane_spos":
        tf.function(lambda: sliced_reference_step(single, data))()
    else:
        single.fit(_dataset(data), epochs=1, steps_per_epoch=1, verbose=0)
    mirrored.fit(_dataset(data), epochs=1, steps_per_epoch=1, verbose=0)

    worst, worst_name, worst_update, compared = 0.0, "", 0.0, 0
    replicas_differ = 0.0
    arch_identical = True
    arch_ids = {id(v) for v in getattr(getattr(mirrored, "supernet", None), "arch_variables", [])}
    for m, s, b in zip(_trained(mirrored), _trained(single), before):
        expected, got = s.numpy(), m.numpy()
        compared += 1
        rel = float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-12))
        moved = np.abs(expected - b).max()
        if moved > 0:
            worst_update = max(worst_update, float(np.abs((got - b) - (expected - b)).max() / moved))
        if rel > worst:
            worst, worst_name = rel, m.name
        copies = [c.numpy() for c in m.values]
        replicas_differ = max(replicas_differ, max(float(np.abs(c - copies[0]).max()) for c in copies))
        if id(m) in arch_ids:
            arch_identical &= all(np.array_equal(c, copies[0]) for c in copies)
    out.update(compared_variables=compared, max_relative_error=worst, worst_variable=worst_name, max_relative_update_error=worst_update,
               replicas_max_difference=replicas_differ, arch_variables=len(arch_ids),
               arch_identical_on_replicas=bool(arch_identical), moved=bool(worst_update >= 0 and any(
                   np.abs(v.numpy() - b).max() > 0 for v, b in zip(_trained(single), before))),
               seconds=round(time.time() - started, 1), cpu_seconds=round(time.process_time() - cpu_started, 1))
    if _sampled(single):
        out["path_after"] = [p.numpy().tolist() for p in mirrored.path.values]
    return out


def main(argv: list[str]) -> None:
    output, cases = argv[1], argv[2:] or list(CASES)
    devices = configure_devices()
    # Grappler's rewrites of these one-step graphs cost more than the steps (see path_sampling.light_graph_optimization)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    strategy = tf.distribute.MirroredStrategy(devices)
    results = {"replicas": strategy.num_replicas_in_sync}
    for case in cases:  # one failing case is reported, the others still run
        try:
            results[case] = run_case(case, strategy)
        except Exception as e:  # noqa: BLE001
            results[case] = {"error": f"{type(e).__name__}: {str(e)[:2000]}"}
        print(case, json.dumps(results[case]), flush=True)
    with open(output, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main(sys.argv)
