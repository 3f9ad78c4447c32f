"""Run a discrete search into an output directory: resumable state, summary, genotype, TensorBoard.

What every discrete search binary writes to ``output_dir``:

* ``searcher_state.json``: the searcher's whole state after every result (``run_search``);
  re-running with the same directory resumes from it and ends with the same result.
* ``search_config.json``: the settings the search started with; resuming with different
  settings is refused (naming the differing settings) instead of mixing two searches.
* ``search_summary.json``: method, seed, objective, history (every evaluated {arch, metrics},
  in order), best ({arch, metrics}) and, for PNAS, the per-batch surrogate Spearman.
* ``genotype.json``: the search's answer as a genotype of its space: the searcher's
  ``recommend()`` where it has one (MANAS: the agents' most probable architecture; the summary
  then also holds it as ``recommended``), else the best architecture so far.
* ``tensorboard/``: scalars ``search/best_so_far`` and ``search/<objective>`` against the number
  of evaluated architectures, and ``surrogate/spearman_<kind>`` per predicted batch.

Summary and genotype are rewritten after every result, so an interrupted search never loses
what it already evaluated.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any, Callable, Mapping

from tfnas.errors import UserInputError
from tfnas.files import write_json
from tfnas.search.api import Architecture, Evaluator, Searcher, run_search

STATE_FILE = "searcher_state.json"
CONFIG_FILE = "search_config.json"
SUMMARY_FILE = "search_summary.json"
GENOTYPE_FILE = "genotype.json"
TENSORBOARD_DIR = "tensorboard"


class OutputDirError(UserInputError):
    """An output directory that holds a different search than the one asked for."""


def prepare_output_dir(output_dir: str, fresh: bool = False) -> None:
    """Create ``output_dir``; with ``fresh`` move what it holds aside (never delete results)."""
    if not output_dir:
        raise OutputDirError("--output_dir is required: the search writes its state, summary and genotype there")
    if fresh and os.path.isdir(output_dir) and os.listdir(output_dir):
        aside = os.path.join(output_dir, time.strftime("previous-%Y%m%d-%H%M%S"))
        os.makedirs(aside)
        for name in os.listdir(output_dir):
            if not name.startswith("previous-"):
                shutil.move(os.path.join(output_dir, name), os.path.join(aside, name))
    os.makedirs(output_dir, exist_ok=True)


def check_config(output_dir: str, config: Mapping[str, Any]) -> None:
    """Record the run's settings, or check that a resumed run uses the same ones."""
    path = os.path.join(output_dir, CONFIG_FILE)
    config = json.loads(json.dumps(dict(config)))  # normalise tuples etc. as JSON would
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        differing = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
        if differing:
            details = ", ".join(f"{k}: saved {saved.get(k)!r}, now {config.get(k)!r}" for k in differing)
            raise OutputDirError(
                f"{output_dir} holds a search with other settings ({details}). Resume with the same flags, "
                "pass --fresh to move the old search aside, or use another --output_dir.")
        return
    write_json(path, config, indent=None)


def _scalar_writer(logdir: str):
    """A function (tag, value, step) writing TensorBoard scalars with TensorFlow alone.

    ``tf.summary.scalar`` lives in the tensorboard package, which the pinned stack does not
    install; a plain ``tf.summary.write`` with the scalars plugin's metadata produces the same
    event records, which TensorBoard shows as scalars.
    """
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    writer = tf.summary.create_file_writer(logdir)
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    metadata = metadata.SerializeToString()

    def scalar(tag: str, value: float, step: int) -> None:
        with writer.as_default():
            tf.summary.write(tag, tf.constant(float(value), tf.float32), step=int(step), metadata=metadata)

    return writer, scalar




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


def run_to_output_dir(searcher: Searcher, evaluator: Evaluator, max_evaluations: int, output_dir: str, method: str,
                      arch_to_summary: Callable[[Architecture], Any], arch_to_genotype: Callable[[Architecture], Any],
                      config: Mapping[str, Any], extra_summary: Mapping[str, Any] | None = None,
                      log: Callable[[str], None] | None = None,
                      on_result: Callable[[int, Architecture, Mapping[str, float]], None] | None = None) -> Searcher:
    """Run (or resume) ``searcher`` against ``evaluator`` and keep ``output_dir`` up to date.

    ``on_result(n, arch, metrics)`` runs after each result is saved (e.g. a method's own TensorBoard views).
    """
    from tfnas.spaces.base import save_genotype

    check_config(output_dir, config)
    writer, scalar = _scalar_writer(os.path.join(output_dir, TENSORBOARD_DIR))
    logged_spearman = [0]

    def write_outputs() -> None:
        write_json(os.path.join(output_dir, SUMMARY_FILE), summary(searcher, method, arch_to_summary, extra_summary))
        best = searcher.best()
        if best is not None:
            answer = searcher.recommend() if hasattr(searcher, "recommend") else best["arch"]
            save_genotype(arch_to_genotype(answer), os.path.join(output_dir, GENOTYPE_FILE))

    def after_result(n: int, arch: Architecture, metrics: Mapping[str, float]) -> None:
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
        if on_result is not None:
            on_result(n, arch, metrics)

    state_path = os.path.join(output_dir, STATE_FILE)
    if os.path.exists(state_path):
        with open(state_path) as f:
            searcher.set_state(json.load(f))
        logged_spearman[0] = len(getattr(searcher, "spearman_log", []))
        if log is not None:
            log(f"[{method}] resumed from {state_path} with {len(searcher.history)} evaluated")
    run_search(searcher, evaluator, max_evaluations, state_path=state_path, on_result=after_result)
    write_outputs()
    writer.close()
    return searcher
