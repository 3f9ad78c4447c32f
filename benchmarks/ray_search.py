"""Discrete search on Ray workers (``--executor=ray``): same result, speed-up, retries, exact resume.

Four checks against the NAS-Bench-201 table (deterministic, so every difference is the executor's):

* ``same_history``: a batch-synchronous searcher (random search; regularized evolution) run in
  process, on 1 and on 4 Ray workers (with per-architecture delays, so results arrive out of
  order) writes the same history.
* ``speedup``: with a fixed ``--delay_s`` sleep per evaluation (sleep-bound, so 2 cores do),
  evaluations per second on 4 workers over the in-process executor (bar: >= 3.2x). Timed from
  the first submission, after the workers are up (cluster start-up is reported separately).
* ``worker_killed``: a worker process kills itself (SIGKILL) on its first attempt at one
  architecture; Ray restarts it and retries; the history must equal the undisturbed one.
* ``driver_killed``: a search driver (a subprocess, 4 workers, 0.2-1.2 s per evaluation) is
  killed with SIGKILL mid-search, then re-run with the same state file. Counted from the
  workers' own log of completed evaluations: results the killed driver had received (told or
  kept as arrived) that the rerun evaluated again (``repeated``), or that are missing from the
  final history (``lost``); both must be 0, and the final history must equal an uninterrupted
  search's. Evaluations that finished on a worker while their result was still in transit to
  the dying driver are necessarily redone; they are reported as ``in_transit_redone``.

With ``--pnas`` it also runs PNAS' progressive search on mnist_embedded (real training,
tiny settings) through ``binaries.search_pnas`` in process, with 1 and with 2 Ray workers, and
reports wall times (cluster start-up included), the 2-over-1-worker ratio (on 2 cores expect
little: each worker trains with one thread), the summed per-candidate training time, and whether
every run trained the same candidates to the same accuracies.

  python benchmarks/ray_search.py                 # the figures in docs/BENCHMARKS.md
  python benchmarks/ray_search.py --pnas

The last printed line is one JSON object with all figures. The evaluator factory
``table_evaluator`` below is also what the tests ship to their workers.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import tfnas  # noqa: E402,F401


class TableEvaluator:
    """The NAS-Bench-201 table, slowed down, logging, and (for the retry check) crashing on demand.

    ``delay_s`` + ``jitter_s`` x (cell code mod 3) seconds of sleep per evaluation; every
    completed evaluation appends {"arch", "pid"} to ``log_file``; an architecture in
    ``crash_first_attempt`` kills its worker process the first time it is evaluated (a marker file
    in ``marker_dir`` remembers the attempt across the restart).
    """

    def __init__(self, path: str | None = None, objective: str = "cifar10", delay_s: float = 0.0,
                 jitter_s: float = 0.0, log_file: str | None = None, crash_first_attempt: list[str] = (),
                 marker_dir: str | None = None):
        from tfnas.benchmarks import nasbench201 as nb

        self.nb = nb
        self.table = nb.load_evaluator(path, objective)
        self.metric = self.table.metric
        self.delay_s, self.jitter_s, self.log_file = delay_s, jitter_s, log_file
        self.crash_first_attempt, self.marker_dir = set(crash_first_attempt), marker_dir

    def evaluate(self, arch) -> dict[str, float]:
        name = self.nb.arch_to_string(arch)
        if name in self.crash_first_attempt:
            marker = os.path.join(self.marker_dir, f"crashed-{self.table.table.code_of(arch)}")
            if not os.path.exists(marker):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(self.delay_s + self.jitter_s * (self.table.table.code_of(arch) % 3))
        metrics = self.table.evaluate(arch)
        if self.log_file:
            with open(self.log_file, "a") as f:  # one short appended line per evaluation
                f.write(json.dumps({"arch": name, "pid": os.getpid()}) + "\n")
        return metrics


def table_evaluator(**kwargs) -> TableEvaluator:
    """EvaluatorSpec factory: ``EvaluatorSpec("benchmarks.ray_search:table_evaluator", {...})``."""
    return TableEvaluator(**kwargs)


def spec(**kwargs):
    from tfnas.search.evaluator_spec import EvaluatorSpec

    return EvaluatorSpec("benchmarks.ray_search:table_evaluator", kwargs)


def searcher(kind: str, seed: int = 0):
    from tfnas.benchmarks import nasbench201 as nb
    from tfnas.search.evolution import RegularizedEvolution
    from tfnas.search.random import RandomSearch

    space, metric = nb.nasbench201_space(), nb.NasBench201Table.load().objective_column("cifar10")
    if kind == "random":
        return RandomSearch(space, metric, seed=seed)
    return RegularizedEvolution(space, metric, seed=seed, population_size=8, tournament_size=3)


def ray_executor(workers: int, **kwargs):
    from tfnas.search.ray_executor import RayExecutor

    executor = RayExecutor(spec(**kwargs), workers)
    executor.worker_settings()  # every worker up (its evaluator built) before anything is timed
    return executor


def search(kind: str, evaluations: int, executor=None, state_path: str | None = None, **kwargs):
    from tfnas.search.api import run_search

    evaluator = None if executor is not None else spec(**kwargs).build()
    return run_search(searcher(kind), evaluator, evaluations, state_path=state_path, executor=executor)


def read_log(path: str) -> list[str]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line)["arch"] for line in f if line.strip()]


def check_same_history(evaluations: int) -> dict[str, Any]:
    out = {}
    for kind in ("random", "evolution"):
        reference = search(kind, evaluations).history
        for workers in (1, 4):
            with ray_executor(workers, jitter_s=0.02) as executor:
                history = search(kind, evaluations, executor).history
            out[f"{kind}_{workers}_workers_same"] = history == reference
    return out


def check_speedup(evaluations: int, delay_s: float) -> dict[str, Any]:
    start = time.time()
    search("random", evaluations, delay_s=delay_s)
    inprocess = time.time() - start
    start = time.time()
    with ray_executor(4, delay_s=delay_s) as executor:
        startup = time.time() - start
        start = time.time()
        search("random", evaluations, executor)
        on_ray = time.time() - start
    return {"evaluations": evaluations, "delay_s": delay_s, "inprocess_s": round(inprocess, 2),
            "ray_4_workers_s": round(on_ray, 2), "ray_workers_startup_s": round(startup, 2),
            "inprocess_evals_per_s": round(evaluations / inprocess, 3),
            "ray_evals_per_s": round(evaluations / on_ray, 3), "speedup": round(inprocess / on_ray, 2)}


def check_worker_killed(evaluations: int, work: str) -> dict[str, Any]:
    from tfnas.benchmarks import nasbench201 as nb

    reference = search("random", evaluations).history
    victim = reference[2]["arch"]
    log = os.path.join(work, "killed.log")
    with ray_executor(2, crash_first_attempt=[nb.arch_to_string(victim)], marker_dir=work, log_file=log) as executor:
        history = search("random", evaluations, executor).history
    crashed = any(name.startswith("crashed-") for name in os.listdir(work))
    return {"worker_crashed": crashed, "same_history": history == reference,
            "evaluations_logged": len(read_log(log))}


def check_driver_killed(evaluations: int, work: str, kill_after: int) -> dict[str, Any]:
    from tfnas.files import read_json, read_state

    state, log = os.path.join(work, "state.json"), os.path.join(work, "driver.log")
    command = [sys.executable, os.path.abspath(__file__), "--driver", f"--state={state}", f"--log={log}",
               f"--evaluations={evaluations}"]
    driver = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    while len(read_log(log)) < kill_after and driver.poll() is None:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    time.sleep(1.0)  # let workers that were mid-evaluation finish writing their line, or die
    leftovers = _kill_leftovers(driver.pid)  # the Ray processes the dead driver started (its session)
    at_kill = read_state(state, default={"history": [], "arrived": []})  # what the rerun resumes from
    received = [h["arch"] for h in at_kill["history"]] + [e["arch"] for e in at_kill.get("arrived", [])]
    from tfnas.benchmarks import nasbench201 as nb

    received = [nb.arch_to_string(a) for a in received]
    before = read_log(log)
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = read_log(log)[len(before):]
    final = [nb.arch_to_string(h["arch"]) for h in read_json(state)["history"]]
    reference = [nb.arch_to_string(h["arch"]) for h in search("random", evaluations).history]
    return {"evaluations": evaluations, "completed_on_workers_by_kill_plus_1s": len(before),
            "received_before_kill": len(received), "told_before_kill": len(at_kill["history"]),
            "arrived_untold_at_kill": len(at_kill.get("arrived", [])),
            "repeated": sum(1 for a in after if a in received), "lost": sum(1 for a in received if a not in final),
            "in_transit_redone": sum(1 for a in after if a in before and a not in received),
            "final_evaluations": len(final), "same_history_as_uninterrupted": final == reference,
            "processes_left_1s_after_the_kill": leftovers}


def _kill_leftovers(session: int) -> int:
    """Kill the processes left in the killed driver's session (Ray's head processes and workers), by
    pid; returns how many there were."""
    import psutil

    count = 0
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getsid(process.pid) == session and process.pid != os.getpid():
                process.kill()
                count += 1
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return count


def driver(state: str, log: str, evaluations: int) -> None:
    """The killed-and-rerun search of ``check_driver_killed``: random search, 4 workers, resumable."""
    with ray_executor(4, delay_s=0.2, jitter_s=0.5, log_file=log) as executor:
        search("random", evaluations, executor, state_path=state)


def check_pnas(work: str) -> dict[str, Any]:
    flags = ["--dataset=mnist_embedded", "--pnas_blocks=2", "--pnas_beam_size=2", "--pnas_initial_cells=6",
             "--pnas_cells=1", "--pnas_filters=8", "--pnas_epochs_per_candidate=1", "--steps_per_epoch=10",
             "--pnas_surrogate_epochs=30", "--pnas_ensemble_size=2", "--pnas_surrogate_units=16", "--verbose=0"]
    runs = {"inprocess": [], "ray_1_worker": ["--executor=ray", "--num_workers=1", "--cpus_per_worker=1"],
            "ray_2_workers": ["--executor=ray", "--num_workers=2", "--cpus_per_worker=1"]}
    out, histories = {}, {}
    for name, executor in runs.items():
        start = time.time()
        subprocess.run([sys.executable, "-m", "binaries.search_pnas", *flags, *executor,
                        f"--output_dir={os.path.join(work, name)}"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out[f"wall_s_{name}"] = round(time.time() - start, 1)
        with open(os.path.join(work, name, "search_summary.json")) as f:
            histories[name] = json.load(f)["history"]
        out[f"evaluated_{name}"] = len(histories[name])
        out[f"sum_train_s_{name}"] = round(sum(h["metrics"]["train_seconds"] for h in histories[name]), 1)
    out["same_ray_1_and_2_workers"] = [(h["arch"], h["metrics"]["val_accuracy"]) for h in histories["ray_1_worker"]] \
        == [(h["arch"], h["metrics"]["val_accuracy"]) for h in histories["ray_2_workers"]]
    for name in ("ray_1_worker", "ray_2_workers"):
        out[f"same_as_inprocess_{name}"] = [(h["arch"], h["metrics"]["val_accuracy"]) for h in histories[name]] == \
            [(h["arch"], h["metrics"]["val_accuracy"]) for h in histories["inprocess"]]
    out["ratio_2_over_1"] = round(out["wall_s_ray_2_workers"] / out["wall_s_ray_1_worker"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--evaluations", type=int, default=24)
    parser.add_argument("--delay_s", type=float, default=1.0)
    parser.add_argument("--kill_after", type=int, default=8, help="driver check: kill once this many are done")
    parser.add_argument("--pnas", action="store_true", help="also time PNAS on mnist_embedded, 1 vs 2 workers")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        return driver(args.state, args.log, args.evaluations)
    import tempfile

    import ray

    work = tempfile.mkdtemp(prefix="ray_search_")
    results: dict[str, Any] = {}
    start = time.time()
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    results["cluster_start_s"] = round(time.time() - start, 1)
    results["same_history"] = check_same_history(args.evaluations)
    results["speedup"] = check_speedup(args.evaluations, args.delay_s)
    os.makedirs(os.path.join(work, "killed"))
    results["worker_killed"] = check_worker_killed(12, os.path.join(work, "killed"))
    ray.shutdown()
    os.makedirs(os.path.join(work, "driver"))
    results["driver_killed"] = check_driver_killed(args.evaluations, os.path.join(work, "driver"), args.kill_after)
    if args.pnas:
        results["pnas"] = check_pnas(work)
    results["bars"] = {
        "same_history": all(results["same_history"].values()),
        "speedup_at_least_3.2": results["speedup"]["speedup"] >= 3.2,
        "worker_killed_retried_same": results["worker_killed"]["worker_crashed"]
        and results["worker_killed"]["same_history"],
        "driver_killed_none_lost_or_repeated": results["driver_killed"]["repeated"] == 0
        and results["driver_killed"]["lost"] == 0 and results["driver_killed"]["same_history_as_uninterrupted"],
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
