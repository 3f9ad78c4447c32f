"""TensorBoard views of the architecture state during a differentiable search.

Every epoch: the op weights of each cell type as a heatmap image (edges x ops), the mean and
per-edge entropy of the op distributions, the temperature, the derived genotype as text, and the
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


def heatmap_png(weights: np.ndarray, ops: list[str], edges: list[str], title: str) -> np.ndarray:
    """An RGB image [1, H, W, 3] of ``weights`` with op and edge labels (matplotlib, Agg)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plain colour-free image without labels
        scaled = (255 * weights / max(weights.max(), 1e-12)).astype(np.uint8)
        img = np.repeat(np.repeat(scaled, 16, 0), 16, 1)
        return np.stack([img] * 3, -1)[None]
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
    return tf.image.decode_png(buf.getvalue(), channels=3).numpy()[None]


class ArchitectureSummary(keras.callbacks.Callback):
    """Writes the architecture state of ``supernet`` to ``logdir`` at every epoch end."""

    def __init__(self, supernet, logdir: str, edge_names: list[str] | None = None):
        super().__init__()
        self.supernet = supernet
        self.writer = tf.summary.create_file_writer(logdir)
        self.edge_names = edge_names

    def on_epoch_end(self, epoch, logs=None):
        self.write(epoch + 1)

    def write(self, step: int) -> dict[str, Any]:
        net = self.supernet
        weights = net.op_weights_numpy()
        probs = net.op_probabilities()
        genotype = net.genotype()
        record: dict[str, Any] = {}
        with self.writer.as_default(step=step):
            for name, w in weights.items():
                edges = self.edge_names or [f"edge {i}" for i in range(w.shape[0])]
                tf.summary.image(f"op_weights/{name}", heatmap_png(w, list(net.ops), edges, f"{name} cell, epoch {step}"))
                ent = entropy(probs[name])
                tf.summary.scalar(f"entropy/{name}_mean", float(ent.mean()))
                tf.summary.histogram(f"entropy/{name}_per_edge", ent)
                record[f"entropy_{name}"] = float(ent.mean())
            count = parameter_free_count(genotype)
            tf.summary.scalar("genotype/parameter_free_ops", count)
            tf.summary.scalar("architecture/temperature", float(net.temperature.numpy()))
            tf.summary.text("genotype", str(genotype))
            record["parameter_free_ops"] = count
        self.writer.flush()
        return record
