"""TensorBoard views of the architecture state during a differentiable search (tfnas.summary_writer).

Every epoch: the op weights of each cell type as a heatmap image (edges x ops), the derived cell
drawn as a graph, the mean and per-edge entropy of the op distributions, the temperature, the
derived genotype as text, and the
number of parameter-free ops (skip, pools, none) in the derived genotype. The last two are the
DARTS collapse signal that Single-DARTS and BATS set out to fix: a collapsing search fills the
genotype with skip connections while the entropy falls.
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import tensorflow as tf

from tfnas.ops.cell_ops import is_parameter_free
from tfnas.report.drawings import draw_genotype
from tfnas.summary_writer import SummaryWriter

keras = tf.keras


def genotype_ops(genotype: Any) -> list[str]:
    """All op names a genotype chose (DARTS: both cells' pairs; NAS-Bench-201: the six edges).

    A NAS-Bench-201 edge can choose ``none`` (its derivation is an argmax over all five ops), and
    a ``none`` edge is one of the parameter-free choices the collapse count includes.
    """
    if hasattr(genotype, "normal"):
        return [op for op, _ in genotype.normal] + [op for op, _ in genotype.reduce]
    return list(genotype.ops) if hasattr(genotype, "ops") else []


def parameter_free_count(genotype: Any) -> int:
    return sum(is_parameter_free(op) for op in genotype_ops(genotype))


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of a [edges, ops] probability matrix."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=-1)


def heatmap_png(weights: np.ndarray, ops: list[str], edges: list[str], title: str) -> bytes:
    """A PNG of ``weights`` with op and edge labels (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(ops), 1.0 + 0.3 * len(edges)), dpi=80)
    im = ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0.0)
    ax.set_xticks(range(len(ops)), ops, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(edges)), edges, fontsize=7)
    for (i, j), v in np.ndenumerate(weights):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                color="white" if v < 0.6 * weights.max() else "black")
    ax.set_title(title, fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


class ArchitectureSummary(keras.callbacks.Callback):
    """Writes the architecture state of ``supernet`` to ``logdir`` at every epoch end."""

    def __init__(self, supernet, logdir: str, edge_names: list[str] | None = None):
        super().__init__()
        self.supernet = supernet
        self.writer = SummaryWriter(logdir)
        self.edge_names = edge_names

    def on_epoch_end(self, epoch, logs=None):
        self.write(epoch + 1)

    def write(self, step: int) -> dict[str, Any]:
        net = self.supernet
        weights = net.op_weights_numpy()
        probs = net.op_probabilities()
        genotype = net.genotype()
        record: dict[str, Any] = {}
        w_ = self.writer
        for name, w in weights.items():
            edges = self.edge_names or [f"edge {i}" for i in range(w.shape[0])]
            w_.image(f"op_weights/{name}", heatmap_png(w, list(net.ops), edges, f"{name} cell, epoch {step}"), step)
            ent = entropy(probs[name])
            w_.scalar(f"entropy/{name}_mean", float(ent.mean()), step)
            w_.histogram(f"entropy/{name}_per_edge", ent, step)
            record[f"entropy_{name}"] = float(ent.mean())
            record.setdefault("op_weights", {})[name] = np.round(w, 5).tolist()
        w_.image("genotype/cell", draw_genotype(genotype.to_json()), step)
        count = parameter_free_count(genotype)
        w_.scalar("genotype/parameter_free_ops", count, step)
        w_.scalar("architecture/temperature", float(net.temperature.numpy()), step)
        w_.text("genotype", str(genotype), step)
        record["parameter_free_ops"] = count
        self.writer.flush()
        return record
