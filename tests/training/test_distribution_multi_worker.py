"""A Single-DARTS search on two local worker processes (MultiWorkerMirroredStrategy over loopback).

Each worker is the search binary itself with its own TF_CONFIG (free loopback ports), both writing
to one output directory (the chief writes, the other reads). The two-worker search equals the
one-device search on the same global batch; a worker killed after the first epoch leaves a run
that the rerun of both workers resumes from that epoch.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Two all-reduced halves vs one batch differ in float summation order only. The losses agree to
# ~1e-4 relative; the architecture variables are moved by Adam, which divides by |gradient|, so an
# alpha whose gradient is near zero moves by up to its learning rate (3e-4) on that noise.
ALPHA_TOLERANCE = dict(rtol=0, atol=3e-4)
LOSS_TOLERANCE = 1e-3


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _command(output_dir, tfds_dir, distribution: str) -> list[str]:
    return [sys.executable, "-m", "binaries.search_single_darts", "--space=nasbench201", "--dataset=mnist_embedded",
            f"--data_dir={tfds_dir}", f"--output_dir={output_dir}", f"--distribution={distribution}", "--epochs=2",
            "--steps_per_epoch=2", "--validation_steps=1", "--batch_size=16", "--layers=1", "--init_channels=4",
            # the paper's fixed architecture rate: --arch_step_budget would raise it to 7.5 over these 4 steps,
            # where Adam turns float noise between one and two workers into another genotype
            "--arch_step_budget=0", "--verbose=0", "--graph_optimization=light"]


def _env(tf_config: dict | None = None) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": ROOT}
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


def _start_workers(output_dir, tfds_dir) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    return [subprocess.Popen(_command(output_dir, tfds_dir, "multi_worker"), cwd=ROOT,
                             env=_env({"cluster": cluster, "task": {"type": "worker", "index": i}}),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]


def _finish(workers: list[subprocess.Popen], timeout: float = 1500) -> None:
    for w in workers:
        out, err = w.communicate(timeout=timeout)
        assert w.returncode == 0, err[-4000:]


def _alphas(output_dir) -> np.ndarray:
    return np.asarray(json.load(open(os.path.join(output_dir, "search_summary.json")))["architecture"]["alphas"]["cell"])


def test_two_workers_search_as_one_device_and_a_killed_worker_resumes(tmp_path, tfds_dir):
    one = tmp_path / "one"
    done = subprocess.run(_command(one, tfds_dir, "default"), cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=1500)
    assert done.returncode == 0, done.stderr[-4000:]

    two = tmp_path / "two"
    workers = _start_workers(two, tfds_dir)
    first_checkpoint = two / "checkpoints" / "ckpt-1.index"
    deadline = time.time() + 600
    while not first_checkpoint.exists():
        assert all(w.poll() is None for w in workers), [w.communicate()[1][-3000:] for w in workers]
        assert time.time() < deadline, "the two workers did not finish their first epoch"
        time.sleep(0.1)
    workers[1].send_signal(signal.SIGKILL)  # the non-chief worker dies in the second epoch
    time.sleep(0.5)
    assert not (two / "search_summary.json").exists()
    history_after_kill = json.load(open(two / "history.json"))
    assert [e["epoch"] for e in history_after_kill] == [1]
    try:
        workers[0].wait(timeout=5)  # the chief cannot finish the epoch without its peer: it blocks, then dies
    except subprocess.TimeoutExpired:
        workers[0].kill()
    for w in workers:
        w.communicate()

    _finish(_start_workers(two, tfds_dir))  # the same command on both workers: it resumes
    history = json.load(open(two / "history.json"))
    assert [e["epoch"] for e in history] == [1, 2]
    assert history[0] == history_after_kill[0]  # epoch 1 was not trained again
    assert json.load(open(two / "genotype.json")) == json.load(open(one / "genotype.json"))
    np.testing.assert_allclose(_alphas(two), _alphas(one), **ALPHA_TOLERANCE)
    one_history = json.load(open(one / "history.json"))
    for key in ("loss", "val_loss"):
        assert history[-1][key] == pytest.approx(one_history[-1][key], rel=LOSS_TOLERANCE)
