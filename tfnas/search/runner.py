"""Run a discrete search into an output directory: resumable state, summary, genotype, TensorBoard.

What every discrete search binary writes to ``output_dir``:

* ``searcher_state.json``: the searcher's whole state after every result (``run_search``);
  re-running with the same directory resumes from it and ends with the same result.
* ``run_config.json``: the settings the search started with (``tfnas.run_dir``); resuming with
  different settings is refused (naming the differing flags) instead of mixing two searches.
* ``search_summary.json``: method, seed, objective, history (every evaluated {arch, metrics},
  in order), best ({arch, metrics}) and, for PNAS, the per-batch surrogate Spearman.
* ``genotype.json``: the best architecture so far as a genotype of its space.
* ``tensorboard/``: scalars (``tfnas.summary_writer``, no TensorFlow needed) ``search/best_so_far`` and ``search/<objective>`` against the number
  of evaluated architectures, and ``surrogate/spearman_<kind>`` per predicted batch.

Summary and genotype are rewritten after every result, so an interrupted search never loses
what it already evaluated.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Mapping

from tfnas.files import write_json
from tfnas.run_dir import OutputDirError, RunDirectory  # noqa: F401  (OutputDirError: what a bad output_dir raises)
from tfnas.search.api import Architecture, Evaluator, Searcher, run_search
from tfnas.summary_writer import SummaryWriter

STATE_FILE = "searcher_state.json"
SUMMARY_FILE = "search_summary.json"
GENOTYPE_FILE = "genotype.json"


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
    if extra:
        out.update(extra)
    return out


def run_to_output_dir(searcher: Searcher, evaluator: Evaluator, max_evaluations: int, output_dir: str, method: str,
                      arch_to_summary: Callable[[Architecture], Any], arch_to_genotype: Callable[[Architecture], Any],
                      config: Mapping[str, Any], extra_summary: Mapping[str, Any] | None = None,
                      log: Callable[[str], None] | None = None, fresh: bool = False) -> Searcher:
    """Run (or resume) ``searcher`` against ``evaluator`` and keep ``output_dir`` up to date.

    ``fresh`` moves what ``output_dir`` holds aside first (``tfnas.run_dir``).
    """
    from tfnas.spaces.base import save_genotype

    run_dir = RunDirectory(output_dir, fresh=fresh)
    run_dir.check_config(config, resumable_keys=())
    output_dir = run_dir.path
    writer = SummaryWriter(run_dir.tensorboard)
    scalar = writer.scalar
    logged_spearman = [0]

    def write_outputs() -> None:
        write_json(os.path.join(output_dir, SUMMARY_FILE), summary(searcher, method, arch_to_summary, extra_summary))
        best = searcher.best()
        if best is not None:
            save_genotype(arch_to_genotype(best["arch"]), os.path.join(output_dir, GENOTYPE_FILE))

    def on_result(n: int, arch: Architecture, metrics: Mapping[str, float]) -> None:
        scalar(f"search/{searcher.objective}", metrics[searcher.objective], n)
        scalar("search/best_so_far", searcher.best_so_far()[-1], n)
        for entry in getattr(searcher, "spearman_log", [])[logged_spearman[0]:]:
            for kind, value in entry.items():
                if kind not in ("batch", "evaluated"):
                    scalar(f"surrogate/spearman_{kind}", value, entry["evaluated"])
            logged_spearman[0] += 1
        writer.flush()
        write_outputs()
        if log is not None:
            log(f"[{method}] {n}: {searcher.objective}={metrics[searcher.objective]:.4g} "
                f"best={searcher.best_so_far()[-1]:.4g} arch={arch_to_summary(arch)}")

    state_path = os.path.join(output_dir, STATE_FILE)
    if os.path.exists(state_path):
        with open(state_path) as f:
            searcher.set_state(json.load(f))
        logged_spearman[0] = len(getattr(searcher, "spearman_log", []))
        if log is not None:
            log(f"[{method}] resumed from {state_path} with {len(searcher.history)} evaluated")
    run_search(searcher, evaluator, max_evaluations, state_path=state_path, on_result=on_result)
    write_outputs()
    writer.close()
    return searcher
