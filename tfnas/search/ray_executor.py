"""Evaluate candidates in parallel on Ray workers: a local cluster started here, or an existing one.

``RayExecutor`` is an ``Executor`` (``tfnas.search.api``): ``run_search`` submits up to
``num_workers`` architectures at once and tells results as they come back. Each worker is a Ray
actor that reserves its own resources (``WorkerResources``: CPUs, which are also its TensorFlow
thread count, and GPUs), limits TensorFlow to them before TensorFlow starts (thread counts,
``CUDA_VISIBLE_DEVICES``), and builds its own evaluator from an ``EvaluatorSpec``: live Keras
objects are never pickled.

Failures are Ray's job: a worker process that dies mid-candidate is restarted (its evaluator
rebuilt) and the candidate retried, up to ``max_retries`` times (Ray actor restarts and task
retries). An exception raised by the evaluator itself is not retried (it would fail again); it
ends the search with the worker's error, and the searcher state keeps every result told so far.

Ray is imported only when a ``RayExecutor`` is made, so the in-process default needs no Ray.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

from tfnas.errors import ConfigError
from tfnas.search.api import Architecture, Executor
from tfnas.search.evaluator_spec import EvaluatorSpec


class RayExecutorError(ConfigError):
    """Ray settings that cannot work (no workers, no resources, Ray missing, an address that does not answer)."""


@dataclasses.dataclass(frozen=True)
class WorkerResources:
    """What one worker reserves on the cluster and lets TensorFlow use.

    ``cpus``: Ray CPUs reserved per worker; also its TensorFlow intra-op thread count (at least 1).
    ``gpus``: Ray GPUs per worker (0: the worker sees no GPU; 1: exactly the one Ray assigns it;
    a fraction shares a GPU between workers).
    """

    cpus: float = 1.0
    gpus: float = 0.0

    def __post_init__(self):
        if self.cpus < 0 or self.gpus < 0 or (self.cpus == 0 and self.gpus == 0):
            raise RayExecutorError(f"a Ray worker needs some resources, got cpus={self.cpus}, gpus={self.gpus}; "
                                   "set --cpus_per_worker (e.g. 1) or --gpus_per_worker")

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus))


def configure_worker(resources: WorkerResources) -> dict[str, Any]:
    """Limit this process' TensorFlow to ``resources``; call before TensorFlow starts (a fresh worker).

    Returns what was set (a worker reports it with ``RayExecutor.worker_settings``).
    """
    threads = str(resources.threads)
    settings = {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": threads}
    if resources.gpus == 0:  # with GPUs, Ray has set CUDA_VISIBLE_DEVICES to the worker's own ones
        settings["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.update(settings)
    if "tensorflow" in sys.modules:  # already started (not a fresh process): set what can still be set
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(resources.threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            if resources.gpus == 0:
                tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # TensorFlow's runtime is initialised; the environment holds for new processes
            pass
    return {**settings, "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "")}


class _Worker:
    """One Ray actor: builds the evaluator from its spec once, then evaluates what it is sent."""

    def __init__(self, spec: EvaluatorSpec, resources: WorkerResources):
        self.settings = configure_worker(resources)
        import tfnas  # noqa: F401  (Keras 2 before TensorFlow, in this process too)

        self.evaluator = spec.build()

    def evaluate(self, arch: Architecture) -> dict[str, float]:
        return self.evaluator.evaluate(arch)

    def describe(self) -> dict[str, Any]:
        return {"pid": os.getpid(), **self.settings}


def check_ray_installed() -> None:
    """One clear error, before any heavy work, where Ray is missing."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise RayExecutorError("--executor=ray needs Ray: pip install -r requirements.txt (it pins ray)")


def _import_ray():
    check_ray_installed()
    import ray

    return ray


class RayExecutor(Executor):
    """``num_workers`` Ray actors, each evaluating one architecture at a time.

    ``address``: None starts a local Ray cluster in this process (with enough logical CPUs for
    every worker: ``num_workers * cpus`` or the machine's cores, whichever is more) unless Ray is
    already initialised here; ``"auto"`` or ``"host:port"`` joins a running cluster (``ray start
    --head`` on the head node). A cluster this executor started is shut down by ``close``.
    """

    def __init__(self, spec: EvaluatorSpec, num_workers: int, resources: WorkerResources = WorkerResources(),
                 address: str | None = None, max_retries: int = 3, init_kwargs: dict[str, Any] | None = None):
        if num_workers < 1:
            raise RayExecutorError(f"--num_workers must be at least 1, got {num_workers}")
        if max_retries < 0:
            raise RayExecutorError(f"--ray_max_retries must be >= 0, got {max_retries}")
        ray = self._ray = _import_ray()
        self._owns_cluster = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, **(init_kwargs or {})}
            if address is None:
                kwargs.setdefault("num_cpus", max(os.cpu_count() or 1, int(num_workers * resources.cpus + 0.999)))
            try:
                ray.init(address=address, **kwargs)
            except ConnectionError as e:
                raise RayExecutorError(f"--ray_address={address}: no Ray cluster answers there ({e}); start one "
                                       "with `ray start --head` or leave --ray_address unset for a local one") from None
            self._owns_cluster = True
        actor = ray.remote(_Worker).options(num_cpus=resources.cpus, num_gpus=resources.gpus,
                                            max_restarts=max_retries, max_task_retries=max_retries)
        self.capacity = num_workers
        self._workers = [actor.remote(spec, resources) for _ in range(num_workers)]
        self._free = list(range(num_workers))
        self._running: dict[Any, tuple[int, int, Architecture]] = {}  # ObjectRef -> (ticket, worker, arch)
        self._queue: list[tuple[int, Architecture]] = []  # submitted while every worker was busy
        self._dropped: set[int] = set()
        self._next = 0

    def worker_settings(self) -> list[dict[str, Any]]:
        """Each worker's process id and the TensorFlow limits it set (threads, visible GPUs)."""
        return self._ray.get([w.describe.remote() for w in self._workers])

    def submit(self, arch: Architecture) -> int:
        self._next += 1
        self._queue.append((self._next, dict(arch)))
        self._dispatch()
        return self._next

    def _dispatch(self) -> None:
        while self._free and self._queue:
            ticket, arch = self._queue.pop(0)
            worker = self._free.pop(0)
            self._running[self._workers[worker].evaluate.remote(arch)] = (ticket, worker, arch)

    def wait(self) -> list[tuple[int, dict[str, float]]]:
        ray = self._ray
        out: list[tuple[int, dict[str, float]]] = []
        while not out:
            if not self._running:
                raise RuntimeError("RayExecutor.wait: nothing was submitted")
            refs = list(self._running)
            ray.wait(refs, num_returns=1)  # block until one is done, then take every one that is
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in ready:
                ticket, worker, arch = self._running.pop(ref)
                self._free.append(worker)
                try:
                    metrics = ray.get(ref)
                except ray.exceptions.RayActorError as e:
                    raise RuntimeError(f"the Ray worker evaluating {arch} died more often than its retries allow "
                                       f"(--ray_max_retries); rerun the same command to resume: {e}") from e
                if ticket not in self._dropped:
                    out.append((ticket, metrics))
            self._dispatch()
        return out

    def discard(self, tickets: list[int]) -> None:
        dropped = set(tickets)
        self._queue = [(t, a) for t, a in self._queue if t not in dropped]
        self._dropped |= dropped

    def close(self) -> None:
        ray = self._ray
        for worker in self._workers:
            ray.kill(worker)
        self._workers, self._running, self._free = [], {}, []
        if self._owns_cluster:
            ray.shutdown()
            self._owns_cluster = False
