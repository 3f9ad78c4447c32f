"""One self-contained HTML page (images embedded) for any tfnas run directory, or several side by side.

What a run directory holds decides what is shown: its summary table; the found genotype drawn;
per-epoch curves (searches and training); for differentiable searches the architecture
distribution over epochs, per edge; for discrete searches the best-so-far curve and, where latency
was measured or limited, accuracy against latency with the Pareto front and the limit. With
several run directories a comparison section comes first (one table, one best-so-far chart).
"""
from __future__ import annotations

import base64
import html
import os
from typing import Any, Sequence

import numpy as np

from tfnas.errors import UserInputError
from tfnas.files import read_json, write_bytes
from tfnas.report import figures
from tfnas.report.drawings import draw_genotype
from tfnas.report.figures import _plt, _png

SUMMARY_FILES = ("search_summary.json", "train_summary.json", "summary.json")


class ReportError(UserInputError):
    """A run directory the report cannot read."""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(rows: Sequence[tuple[str, Any]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        text = str(value)
        return text if len(text) < 160 else text[:157] + "..."
    return str(value)


class Run:
    """What one run directory holds, read once."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        if not os.path.isdir(self.path):
            raise ReportError(f"--run_dir={path} is not a directory; pass the --output_dir of a tfnas run")
        self.summary, self.summary_file = None, None
        for name in SUMMARY_FILES:
            data = read_json(os.path.join(self.path, name))
            if data is not None:
                self.summary, self.summary_file = data, name
                break
        if self.summary is None:
            raise ReportError(f"{self.path} holds no {' / '.join(SUMMARY_FILES)}: is it the --output_dir of a finished "
                              "(or running) tfnas search or training?")
        self.genotype = read_json(os.path.join(self.path, "genotype.json")) or self.summary.get("genotype")
        self.epochs = self.summary.get("epochs") if isinstance(self.summary.get("epochs"), list) else None
        self.history = self.summary.get("history") if isinstance(self.summary.get("history"), list) else None

    @property
    def name(self) -> str:
        return f"{self.summary.get('method', self.summary_file.split('_')[0])} ({os.path.basename(self.path)})"

    @property
    def objective(self) -> str:
        return self.summary.get("objective") or "accuracy"

    def objective_values(self) -> list[float]:
        out = []
        for h in self.history or []:
            metrics = h.get("metrics", h)
            key = self.objective if self.objective in metrics else next(
                (k for k in ("accuracy", "val_accuracy") if k in metrics), None)
            if key is not None:
                out.append(float(metrics[key]))
        return out

    def latency_points(self) -> tuple[list[float], list[float], str] | None:
        lat, acc, key_used = [], [], None
        for h in self.history or []:
            metrics = h.get("metrics", h)
            key = next((k for k in metrics if k in figures.LATENCY_KEYS or k.startswith("latency_ms_")), None)
            value = self.objective if self.objective in metrics else ("accuracy" if "accuracy" in metrics else None)
            if key is not None and value is not None:
                lat.append(float(metrics[key]))
                acc.append(float(metrics[value]))
                key_used = key
        return (lat, acc, key_used) if lat else None

    def limit(self) -> float | None:
        for source in (self.summary, self.summary.get("config") or {}):
            if isinstance(source, dict) and source.get("max_latency_ms") is not None:
                return float(source["max_latency_ms"])
        return None

    def facts(self) -> list[tuple[str, Any]]:
        s = self.summary
        rows = [("run directory", self.path), ("file", self.summary_file)]
        for key in ("method", "space", "dataset", "seed", "objective", "num_evaluated", "test_accuracy", "params",
                    "wall_time_s", "total_wall_time_s", "training_time_s", "max_latency_ms"):
            if key in s:
                rows.append((key, s[key]))
        best = s.get("best")
        if isinstance(best, dict):
            rows.append(("best", best.get("metrics", {k: v for k, v in best.items() if k != "genotype"})))
        if self.epochs:
            rows.append(("epochs", len(self.epochs)))
        return rows


def run_section(run: Run) -> str:
    parts = [f"<section><h2>{html.escape(run.name)}</h2>", _table(run.facts())]
    if isinstance(run.genotype, dict):
        parts += ["<h3>Found architecture</h3>", _img(draw_genotype(run.genotype), "found architecture")]
    if run.epochs:
        png = figures.curves(run.epochs, "per epoch")
        if png:
            parts += ["<h3>Curves</h3>", _img(png, "curves")]
        ops = (run.summary.get("architecture") or {}).get("ops")
        for cell, png in figures.distribution_over_epochs(run.epochs, ops or []) if ops else []:
            parts += [f"<h3>Architecture distribution over epochs: {html.escape(cell)}</h3>",
                      _img(png, f"architecture distribution {cell}")]
    values = run.objective_values()
    if values:
        parts += ["<h3>Best so far</h3>",
                  _img(figures.best_so_far({run.name: values}, run.objective, run.summary.get("mode", "max")),
                       "best so far")]
    points = run.latency_points()
    if points:
        lat, acc, key = points
        parts += ["<h3>Accuracy against latency</h3>",
                  _img(figures.accuracy_vs_latency(lat, acc, run.limit(), (key, run.objective)), "pareto")]
    parts.append("</section>")
    return "\n".join(parts)


def comparison_section(runs: Sequence[Run]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{html.escape(_fmt(r.summary.get('dataset', '')))}</td>"
        f"<td>{html.escape(_fmt(max(r.objective_values()) if r.objective_values() else r.summary.get('test_accuracy', '')))}</td>"
        f"<td>{html.escape(_fmt(r.summary.get('wall_time_s', '')))}</td></tr>" for r in runs)
    parts = ["<section><h2>Comparison</h2>",
             f"<table><tr><th>run</th><th>dataset</th><th>best objective</th><th>wall time (s)</th></tr>{rows}</table>"]
    series = {r.name: r.objective_values() for r in runs if r.objective_values()}
    if len(series) > 1:
        objective = runs[0].objective
        parts.append(_img(figures.best_so_far(series, objective), "comparison best so far"))
    val = {r.name: [e.get("val_accuracy") for e in r.epochs] for r in runs
           if r.epochs and any("val_accuracy" in e for e in r.epochs)}
    if len(val) > 1:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(5.6, 3.2))
        for name, v in val.items():
            ax.plot(range(1, len(v) + 1), [np.nan if x is None else x for x in v], marker="o", ms=3, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("val_accuracy")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        parts.append(_img(_png(fig), "comparison validation accuracy"))
    parts.append("</section>")
    return "\n".join(parts)


STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px}h1{font-size:1.5em}h2{border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:0.5em 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:0.9em}
img{max-width:100%;display:block;margin:0.5em 0}"""


def write_report(run_dirs: Sequence[str], output: str) -> str:
    """Write the report of ``run_dirs`` to ``output`` (HTML, images embedded); returns the path."""
    if not run_dirs:
        raise ReportError("pass at least one --run_dir=<output_dir of a tfnas run>")
    runs = [Run(d) for d in run_dirs]
    body = [f"<h1>tfnas report: {html.escape(', '.join(r.name for r in runs))}</h1>"]
    if len(runs) > 1:
        body.append(comparison_section(runs))
    body += [run_section(r) for r in runs]
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>tfnas report</title><style>{STYLE}</style>" \
           f"</head><body>{''.join(body)}</body></html>"
    write_bytes(output, page.encode("utf-8"))
    return output
