"""The report's charts: training and search curves, architecture distributions, best-so-far, Pareto fronts."""
from __future__ import annotations

import io
import math
from typing import Any, Mapping, Sequence

import numpy as np

from tfnas.report.heatmap import heatmap_png  # noqa: F401  (re-exported: the report's figures in one place)

def _plt():
    """matplotlib's pyplot on the Agg backend (no display needed), imported when a chart is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    """``fig`` as PNG bytes; the figure is closed (pyplot keeps every open figure alive)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _plt().close(fig)
    return buf.getvalue()


LATENCY_KEYS = ("predicted_latency_ms", "measured_latency_ms", "latency_ms")


def curves(epochs: Sequence[Mapping[str, Any]], title: str) -> bytes | None:
    """Per-epoch numbers in up to three panels: losses, accuracies, and the rest (entropy, parameter-free ops)."""
    numeric = sorted({k for e in epochs for k, v in e.items()
                      if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool)
                      and not k.endswith("time_s")})
    if not epochs or not numeric:
        return None
    groups = [("loss", [k for k in numeric if "loss" in k]),
              ("accuracy", [k for k in numeric if "accuracy" in k or k.endswith("_acc")])]
    groups.append(("other", [k for k in numeric if k not in groups[0][1] + groups[1][1]]))
    groups = [g for g in groups if g[1]]
    plt = _plt()
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.0), squeeze=False)
    x = [e.get("epoch", i + 1) for i, e in enumerate(epochs)]
    for ax, (name, keys) in zip(axes[0], groups):
        for k in keys:
            ax.plot(x, [e.get(k, np.nan) for e in epochs], marker="o", ms=3, label=k)
        ax.set_xlabel("epoch")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _png(fig)


def distribution_over_epochs(epochs: Sequence[Mapping[str, Any]], ops: Sequence[str],
                             edge_names: Sequence[str] | None = None) -> list[tuple[str, bytes]]:
    """Per cell type, one small heatmap per edge: epochs down, ops across, the op weights' share."""
    if not epochs or "op_weights" not in epochs[-1]:
        return []
    plt = _plt()
    out = []
    for cell, last in epochs[-1]["op_weights"].items():
        weights = np.array([e["op_weights"][cell] for e in epochs if "op_weights" in e], np.float64)  # [T, E, K]
        weights = weights / np.maximum(weights.sum(-1, keepdims=True), 1e-12)
        num_edges = weights.shape[1]
        cols = min(7, num_edges)
        rows = math.ceil(num_edges / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 1.6 * rows + 0.6), squeeze=False)
        for e in range(rows * cols):
            ax = axes.flat[e]
            if e >= num_edges:
                ax.axis("off")
                continue
            ax.imshow(weights[:, e, :], aspect="auto", cmap="viridis", vmin=weights[:, e, :].min(),
                      vmax=weights[:, e, :].max())
            ax.set_title(edge_names[e] if edge_names and e < len(edge_names) else f"edge {e}", fontsize=7)
            ax.set_xticks(range(len(ops)), [o.replace("_", " ") for o in ops], rotation=90, fontsize=5)
            ax.set_yticks([0, weights.shape[0] - 1], ["1", str(weights.shape[0])], fontsize=6)
            ax.scatter([int(np.argmax(weights[-1, e]))], [weights.shape[0] - 1], marker="*", c="red", s=30)
        fig.suptitle(f"{cell} cell: op weights per edge over epochs (rows: epochs; red star: the final choice)",
                     fontsize=9)
        fig.tight_layout()
        out.append((cell, _png(fig)))
    return out


def best_so_far(series: Mapping[str, Sequence[float]], objective: str, mode: str = "max") -> bytes:
    """Best objective value so far against the number of evaluations, one line per run."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    for name, values in series.items():
        values = np.asarray(values, np.float64)
        best = np.maximum.accumulate(values) if mode == "max" else np.minimum.accumulate(values)
        ax.plot(np.arange(1, len(best) + 1), best, label=name)
        ax.scatter(np.arange(1, len(values) + 1), values, s=5, alpha=0.3)
    ax.set_xlabel("evaluations")
    ax.set_ylabel(objective)
    ax.set_title("best so far (dots: every evaluation)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def pareto_front(latency: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both (lower latency and higher accuracy), by latency."""
    order = np.lexsort((-accuracy, latency))
    front, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            front.append(i)
            best = accuracy[i]
    return np.array(front, int)


def accuracy_vs_latency(latency: Sequence[float], accuracy: Sequence[float], limit: float | None,
                        labels: tuple[str, str]) -> bytes:
    plt = _plt()
    latency, accuracy = np.asarray(latency, np.float64), np.asarray(accuracy, np.float64)
    front = pareto_front(latency, accuracy)
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    ax.scatter(latency, accuracy, s=10, alpha=0.5, label="evaluated")
    ax.plot(latency[front], accuracy[front], "r-o", ms=3, label="Pareto front")
    if limit is not None:
        ax.axvline(limit, color="k", ls="--", lw=1, label=f"limit {limit:g} ms")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("accuracy against latency", fontsize=9)
    fig.tight_layout()
    return _png(fig)
