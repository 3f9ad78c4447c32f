"""Run a discrete search into an output directory: resumable state, summary, genotype, TensorBoard.

What every discrete search binary writes to ``output_dir``:

* ``searcher_state.json``: the searcher's whole state after every result (``run_search``);
  re-running with the same directory resumes from it and ends with the same result.
* ``run_config.json``: the settings the search started with (``tfnas.run_dir``); resuming with
  different settings is refused (naming the differing flags) instead of mixing two searches.
* ``search_summary.json``: method, seed, objective, history (every evaluated {arch, metrics},
  in order), best ({arch, metrics}) and, for PNAS, the per-batch surrogate Spearman.
* ``genotype.json``: the search's answer as a genotype of its space: the searcher's
  ``recommend()`` where it has one (MANAS: the agents' most probable architecture; the summary
  then also holds it as ``recommended``), else the best architecture so far.
* ``tensorboard/``: scalars (``tfnas.summary_writer``, no TensorFlow needed) ``search/best_so_far``
  and ``search/<objective>`` against the number
  of evaluated architectures, and ``surrogate/spearman_<kind>`` per predicted batch;
  ``tensorboard/trials/``: every evaluated architecture as an HParams trial (``tfnas.search.trials``).

The searcher state is written after every result, so an interrupted search never loses what it
already evaluated. Summary and genotype are rewritten from it at most every
``SUMMARY_INTERVAL_S`` seconds (and after the first and the last result, and on resume): the
summary holds the whole history, so rewriting it after every one of N results would cost O(N^2)
(a 300-evaluation tabular search spent most of its time there).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Mapping

from tfnas.files import write_json
from tfnas.run_dir import OutputDirError, RunDirectory  # noqa: F401  (OutputDirError: what a bad output_dir raises)
from tfnas.search.api import Architecture, Evaluator, Executor, Searcher, load_searcher_state, reached, run_search
from tfnas.search.trials import TrialLog, space_options
from tfnas.summary_writer import SummaryWriter

STATE_FILE = "searcher_state.json"
SUMMARY_FILE = "search_summary.json"
GENOTYPE_FILE = "genotype.json"
SUMMARY_INTERVAL_S = 2.0


def summary(searcher: Searcher, method: str, arch_to_summary: Callable[[Architecture], Any],
            extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """search_summary.json's content (architectures shown as ``arch_to_summary`` makes them)."""
    best = searcher.best()
    out: dict[str, Any] = {
        "method": method, "seed": searcher.seed, "objective": searcher.objective, "mode": searcher.mode,
        "num_evaluated": len(searcher.history),
        "history": [{"arch": arch_to_summary(h["arch"]), "metrics": h["metrics"]} for h in searcher.history],
        "best": None if best is None else {"arch": arch_to_summary(best["arch"]), "metrics": best["metrics"]},
        "finished": searcher.finished,
    }
    if hasattr(searcher, "spearman_log"):
        out["surrogate_spearman"] = list(searcher.spearman_log)
    if hasattr(searcher, "recommend"):
        out["recommended"] = arch_to_summary(searcher.recommend())
    if extra:
        out.update(extra)
    return out


def run_to_output_dir(searcher: Searcher, evaluator: Evaluator | None, max_evaluations: int, output_dir: str, method: str,
                      arch_to_summary: Callable[[Architecture], Any], arch_to_genotype: Callable[[Architecture], Any],
                      config: Mapping[str, Any], extra_summary: Mapping[str, Any] | None = None,
                      log: Callable[[str], None] | None = None, fresh: bool = False,
                      on_result: Callable[[int, Architecture, Mapping[str, float]], None] | None = None,
                      target: float | None = None, executor: Executor | None = None,
                      asynchronous: bool = False) -> Searcher:
    """Run (or resume) ``searcher`` against ``evaluator`` and keep ``output_dir`` up to date.

    ``fresh`` moves what ``output_dir`` holds aside first (``tfnas.run_dir``); ``on_result(n, arch,
    metrics)`` runs after each result is saved (e.g. a method's own TensorBoard views); ``target``
    ends the search once the objective reaches it. Every evaluated architecture is also a trial of
    TensorBoard's HParams dashboard (its choices as hparams, its metrics as metrics). ``executor``
    and ``asynchronous`` are ``run_search``'s (default: ``evaluator`` in this process).
    """
    from tfnas.spaces.base import save_genotype

    run_dir = RunDirectory(output_dir, fresh=fresh)
    run_dir.check_config(config, resumable_keys=())
    output_dir = run_dir.path
    writer = SummaryWriter(run_dir.tensorboard)
    scalar = writer.scalar
    logged_spearman = [0]
    trials = TrialLog(os.path.join(run_dir.tensorboard, "trials"), space_options(getattr(searcher, "space", None)))

    last_written = [float("-inf")]

    def write_outputs() -> None:
        last_written[0] = time.monotonic()
        write_json(os.path.join(output_dir, SUMMARY_FILE), summary(searcher, method, arch_to_summary, extra_summary))
        best = searcher.best()
        if best is not None:
            answer = searcher.recommend() if hasattr(searcher, "recommend") else best["arch"]
            save_genotype(arch_to_genotype(answer), os.path.join(output_dir, GENOTYPE_FILE))

    def after_result(n: int, arch: Architecture, metrics: Mapping[str, float]) -> None:
        trials.sync(searcher.history)
        scalar(f"search/{searcher.objective}", metrics[searcher.objective], n)
        scalar("search/best_so_far", searcher.best_so_far()[-1], n)
        for entry in getattr(searcher, "spearman_log", [])[logged_spearman[0]:]:
            for kind, value in entry.items():
                if kind not in ("batch", "evaluated"):
                    scalar(f"surrogate/spearman_{kind}", value, entry["evaluated"])
            logged_spearman[0] += 1
        writer.flush()
        if n == 1 or time.monotonic() - last_written[0] >= SUMMARY_INTERVAL_S:
            write_outputs()
        if log is not None:
            log(f"[{method}] {n}: {searcher.objective}={metrics[searcher.objective]:.4g} "
                f"best={searcher.best_so_far()[-1]:.4g} arch={arch_to_summary(arch)}")
        if on_result is not None:
            on_result(n, arch, metrics)

    state_path = os.path.join(output_dir, STATE_FILE)
    if load_searcher_state(searcher, state_path):
        logged_spearman[0] = len(getattr(searcher, "spearman_log", []))
        done = len(searcher.history)
        if done >= max_evaluations or searcher.finished:
            _warn(f"{method}: the budget was already spent ({done} evaluated"
                  + (", the search finished" if searcher.finished else f", --max_evaluations={max_evaluations}")
                  + "); reporting the stored result. Raise --max_evaluations to evaluate more.")
        elif log is not None:
            log(f"[{method}] resumed from {state_path} with {done} evaluated")
    try:
        run_search(searcher, evaluator, max_evaluations, state_path=state_path, on_result=after_result,
                   target=target, executor=executor, asynchronous=asynchronous)
    except BaseException:
        if searcher.history:  # a failed evaluation or Ctrl-C: the summary shows everything evaluated so far
            write_outputs()
        writer.close()
        raise
    trials.sync(searcher.history)  # a resumed search with nothing left to evaluate writes what a kill left out
    if reached(searcher, target):
        extra_summary = {**(extra_summary or {}), "target": target, "stopped_at_target": True}
    write_outputs()
    writer.close()
    return searcher


def _warn(message: str) -> None:
    logging.getLogger("tfnas").warning(message)
