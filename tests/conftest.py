"""Shared fixtures: tiny configurations on the real embedded data, no network."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _share_cores_between_test_workers() -> None:
    """Under pytest-xdist, each worker's TensorFlow (and every binary a test runs, which inherits the
    environment) gets its share of the cores, not a pool as large as the machine.

    TensorFlow's thread pools spin while they wait for work; with two workers on two cores each
    pool spinning on both cores burnt CPU the other worker needed (the suite's user time fell from
    31.5 to 27.9 minutes with one thread each; docs/BENCHMARKS.md). A value the caller set wins.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers > 1:
        share = str(max(1, (os.cpu_count() or 1) // workers))
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", share)
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", share)


_share_cores_between_test_workers()

import tfnas  # noqa: E402,F401  (Keras 2 before TensorFlow)

import pytest  # noqa: E402

# The slowest test files, slowest first (seconds of one run of the two-worker suite, docs/BENCHMARKS.md,
# "The test suite's wall time"). A scheduling hint only: scripts/test.sh hands whole files to the two
# workers in collection order (``--dist loadfile --no-loadscope-reorder``), and each worker is handed
# its next file while it still runs one, so a long file collected last can leave the other worker
# idle while it runs; xdist's own order (most tests first) put these files, a few long tests each,
# at the end. Longest first, the short files fill the tail (measured, the tail was under 30 s either
# way). A file missing here only runs later.
SLOWEST_FILES = (
    "tests/test_tutorial.py",
    "tests/reliability/test_kill_resume_pnas_hurricane.py",
    "tests/reliability/test_kill_resume.py",
    "tests/training/test_distribution_mirrored.py",
    "tests/hardware/test_lce_export.py",
    "tests/methods/test_differentiable.py",
    "tests/reliability/test_kill_resume_bats.py",
    "tests/methods/test_bats.py",
    "tests/training/test_distribution_multi_worker.py",
    "tests/methods/test_differentiable_search.py",
    "tests/methods/test_search_hurricane_binary.py",
    "tests/training/test_trainer.py",
    "tests/training/test_distribution_mirrored_bats.py",
    "tests/search/test_training_evaluator.py",
    "tests/methods/test_manas_supernet_search.py",
)


def pytest_collection_modifyitems(session, config, items) -> None:
    """The slowest files first (SLOWEST_FILES), every file's own tests in their order (a stable sort)."""
    rank = {path: i for i, path in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


BENCHDATA = os.environ.get("TFNAS_BENCHDATA", os.path.join(os.path.dirname(ROOT), "shared", "benchdata"))


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory) -> str:
    """One tfds data_dir per test session; the embedded datasets are prepared into it on first use."""
    return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="session")
def mnist(tfds_dir):
    """The embedded MNIST subset (4,000 train / 1,000 test real images), loaded once."""
    from tfnas.data import load_image_data

    return load_image_data("mnist_embedded", data_dir=tfds_dir)


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """1,000 training and 500 test images of the embedded MNIST subset, for quick training checks."""
    import dataclasses

    return dataclasses.replace(mnist, train_images=mnist.train_images[:1000], train_labels=mnist.train_labels[:1000],
                               test_images=mnist.test_images[:500], test_labels=mnist.test_labels[:500])


def _explicit_mixed_cell(cell, states, weights, make_op):
    """sum_e sum_k w[e,k] * op_k(source(e)) node by node, one separate layer per (edge, op) made by
    ``make_op(op, edge, stride, source_state)``: the definition of a DARTS / NAS-Bench-201 mixed cell
    written without any batching, the reference the batched float and binary cells are checked against."""
    import tensorflow as tf

    states = list(states)
    edge = 0
    for n in range(cell.num_nodes):
        total = 0.0
        for s in range(cell.num_inputs + n):
            stride = 2 if cell.reduction and s < cell.num_inputs else 1
            for k, op in enumerate(cell.ops):
                if op == "none" or weights[edge, k] == 0:
                    continue
                layer = make_op(op, edge, stride, states[s])
                total = total + weights[edge, k] * layer(states[s], training=True)
            edge += 1
        states.append(total)
    return tf.concat(states[cell.num_inputs:], -1) if cell.output_mode == "concat" else states[-1]


@pytest.fixture
def explicit_cell():
    """The unbatched mixed-cell reference (see _explicit_mixed_cell)."""
    return _explicit_mixed_cell


def strided_choice_table(config, cost: dict, path: str, fixed_ms: float = 0.05) -> str:
    """A HURRICANE device table (op -> ms from ``cost``) where only the four strided layers have a choice:
    every other layer keeps the first op alone, which keeps supernets tiny. Saved to ``path``."""
    from tfnas.hardware import latency_table as lt

    ops = tuple(cost)
    table = lt.LatencyTable.from_function(config, lambda p, op: cost[op], ops=ops, fixed_ms=fixed_ms)
    strided = {p.key() for p in config.positions() if p.stride == 2}
    for key, row in table.entries.items():
        if key not in strided:
            for op in ops[1:]:
                del row[op]
    table.save(path)
    return path


@pytest.fixture
def deterministic():
    """Deterministic TF kernels for this test only (switched off afterwards: with it on, every op that
    draws random numbers needs a seed, which later tests in the same process do not pass)."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    tf.config.experimental.enable_op_determinism()
    yield
    tf_config.disable_op_determinism()


@pytest.fixture(scope="session")
def kill_inputs(tmp_path_factory, tfds_dir) -> dict:
    """What the kill -9 tests' binaries read (tests/reliability/kill_harness.py), made once per test process."""
    from kill_harness import make_inputs

    return make_inputs(tmp_path_factory.mktemp("inputs"), tfds_dir)


def read_trials(logdir: str) -> dict:
    """The HParams experiment and trials under ``logdir``, read back the way TensorBoard reads them.

    ``{"experiment": {"hparams": {name: [values]}, "metrics": [tags]} or None,
    "trials": {directory relative to logdir: {"id": trial id, "hparams": {...}, "metrics": {tag: value}}}}``,
    one entry per directory holding a trial (a directory written twice would hold two ids).
    """
    import glob as glob_lib

    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2
    from tensorboard.util import tensor_util

    def value(v):
        return getattr(v, v.WhichOneof("kind"))

    out: dict = {"experiment": None, "trials": {}}
    for directory in sorted({os.path.dirname(p) for p in glob_lib.glob(os.path.join(logdir, "**", "events.*"),
                                                                           recursive=True)}):
        ids, hparams, metrics = [], {}, {}
        for path in sorted(glob_lib.glob(os.path.join(directory, "events.*"))):
            for event in EventFileLoader(path).Load():
                for v in event.summary.value:
                    content = v.metadata.plugin_data.content
                    if v.tag == metadata.EXPERIMENT_TAG:
                        experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
                        out["experiment"] = {
                            "hparams": {h.name: [value(x) for x in h.domain_discrete.values] for h in experiment.hparam_infos},
                            "metrics": [m.name.tag for m in experiment.metric_infos]}
                    elif v.tag == metadata.SESSION_START_INFO_TAG:
                        start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
                        ids.append(start.group_name)
                        hparams.update({k: value(x) for k, x in start.hparams.items()})
                    else:
                        metrics[v.tag] = float(tensor_util.make_ndarray(v.tensor))
        if ids:
            out["trials"][os.path.relpath(directory, logdir)] = {"id": ids[0] if len(ids) == 1 else ids,
                                                                 "hparams": hparams, "metrics": metrics}
    return out
