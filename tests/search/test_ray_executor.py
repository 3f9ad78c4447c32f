"""Candidates evaluated on Ray workers: the same history as in process, retries of dead workers, worker limits.

One local Ray cluster (4 logical CPUs, no dashboard) serves the whole module and is shut down at
its end. Evaluators reach the workers as an EvaluatorSpec of benchmarks/ray_search.py's
NAS-Bench-201 table evaluator (with small per-architecture delays, so results come back out of
order).
"""
import json
import os

import pytest
import ray
from absl import flags

import tfnas  # noqa: F401
from benchmarks.ray_search import spec
from tfnas.benchmarks import nasbench201 as nb
from tfnas.search.api import run_search
from tfnas.search.evolution import RegularizedEvolution
from tfnas.search.random import RandomSearch
from tfnas.search.ray_executor import RayExecutor, WorkerResources


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def table():
    return nb.load_evaluator(None, "cifar10")


def random_search(table):
    return RandomSearch(table.space(), table.metric, seed=2)


def evolution(table):
    return RegularizedEvolution(table.space(), table.metric, seed=2, population_size=4, tournament_size=2)


@pytest.mark.parametrize("make", [random_search, evolution])
def test_one_and_four_workers_give_the_in_process_history(table, make):
    reference = run_search(make(table), table, 10).history
    for workers in (1, 4):
        with RayExecutor(spec(jitter_s=0.05), workers) as executor:
            assert run_search(make(table), None, 10, executor=executor).history == reference


def test_each_worker_limits_its_own_tensorflow():
    with RayExecutor(spec(), 2, WorkerResources(cpus=1)) as executor:
        settings = executor.worker_settings()
    assert len({s["pid"] for s in settings}) == 2
    for s in settings:
        assert s["TF_NUM_INTRAOP_THREADS"] == "1" and s["CUDA_VISIBLE_DEVICES"] == ""


def test_a_worker_killed_on_its_first_attempt_is_retried_and_the_result_unchanged(table, tmp_path):
    reference = run_search(random_search(table), table, 6).history
    victim = nb.arch_to_string(reference[1]["arch"])
    log = str(tmp_path / "evaluations.log")
    with RayExecutor(spec(crash_first_attempt=[victim], marker_dir=str(tmp_path), log_file=log), 2) as executor:
        history = run_search(random_search(table), None, 6, executor=executor).history
    assert history == reference
    assert [p.name for p in tmp_path.glob("crashed-*")]  # it did die once
    with open(log) as f:
        assert sorted(json.loads(line)["arch"] for line in f) == sorted(nb.arch_to_string(h["arch"]) for h in reference)


def test_a_worker_that_keeps_dying_ends_the_search_with_a_clear_error(table, tmp_path):
    victim = nb.arch_to_string(run_search(random_search(table), table, 1).history[0]["arch"])
    with RayExecutor(spec(crash_first_attempt=[victim], marker_dir=str(tmp_path)), 1, max_retries=0) as executor:
        with pytest.raises(RuntimeError, match="--ray_max_retries"):
            run_search(random_search(table), None, 3, executor=executor)


def test_the_binaries_search_on_ray_workers(tmp_path):
    from binaries import search_random

    def run(out, *args):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["search_random", "--benchmark=nasbench201", "--max_evaluations=8", "--verbose=0",
                     f"--output_dir={out}", *args])
        search_random.search()
        with open(os.path.join(out, "search_summary.json")) as f:
            return json.load(f)["history"]

    on_ray = run(tmp_path / "ray", "--executor=ray", "--num_workers=3", "--cpus_per_worker=1")
    assert on_ray == run(tmp_path / "inprocess")
    assert ray.is_initialized()  # the binary joined this cluster and left it running
