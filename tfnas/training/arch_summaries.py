"""TensorBoard views of the architecture state during a differentiable search (tfnas.summary_writer).

Every epoch: the op weights of each cell type as a heatmap image (edges x ops, the colour scale
fitted to the weights, every weight printed, the op derivation takes outlined), the derived cell
drawn as a graph, the mean and per-edge entropy of the op distributions, the temperature, the
derived genotype as text, and the
number of parameter-free ops (skip, pools, none) in the derived genotype. The last two are the
DARTS collapse signal that Single-DARTS and BATS set out to fix: a collapsing search fills the
genotype with skip connections while the entropy falls.

Steps count completed epochs (0: the initial architecture, k: after epoch k), the same steps the
Keras curves get from ``EpochTensorBoard``, so the charts line up.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import tensorflow as tf

from tfnas.ops.cell_ops import is_parameter_free
from tfnas.report.drawings import draw_genotype
from tfnas.report.figures import heatmap_png
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


def chosen_ops(weights: np.ndarray, ops: list[str], none_choosable: bool) -> list[int]:
    """Per edge, the op derivation takes: the strongest, among the non-``none`` ops unless ``none``
    is a real choice (NAS-Bench-201)."""
    allowed = np.array([none_choosable or op != "none" for op in ops])
    return [int(np.argmax(np.where(allowed, row, -np.inf))) for row in weights]


class ArchitectureSummary(keras.callbacks.Callback):
    """Writes the architecture state of ``supernet`` to ``logdir`` at every epoch end."""

    def __init__(self, supernet, logdir: str, edge_names: list[str] | None = None):
        super().__init__()
        self.supernet = supernet
        self.writer = SummaryWriter(logdir)
        self.edge_names = edge_names
        self._drawn: tuple[str, bytes] | None = None  # (genotype JSON, its drawing): redrawn only when it changes

    def on_epoch_end(self, epoch, logs=None):
        self.write(epoch + 1)

    def write(self, step: int) -> dict[str, Any]:
        net = self.supernet
        weights = net.op_weights_numpy()
        probs = net.op_probabilities()
        genotype = net.genotype()
        record: dict[str, Any] = {}
        w_ = self.writer
        none_choosable = genotype.SPACE == "nasbench201"
        for name, w in weights.items():
            edges = self.edge_names or [f"edge {i}" for i in range(w.shape[0])]
            cell = "" if name == "cell" else f"{name} cell: "
            when = "initial" if step == 0 else f"after epoch {step}"
            png, _, _ = heatmap_png(w, edges, list(net.ops), f"{cell}op weights {when} (outlined: the op derived)",
                                    chosen_ops(w, list(net.ops), none_choosable))
            w_.image(f"op_weights/{name}", png, step)
            ent = entropy(probs[name])
            w_.scalar(f"entropy/{name}_mean", float(ent.mean()), step)
            w_.histogram(f"entropy/{name}_per_edge", ent, step)
            record[f"entropy_{name}"] = float(ent.mean())
            record.setdefault("op_weights", {})[name] = np.round(w, 5).tolist()
        w_.image("genotype/cell", self._drawing(genotype.to_json()), step)
        count = parameter_free_count(genotype)
        w_.scalar("genotype/parameter_free_ops", count, step)
        w_.scalar("architecture/temperature", float(net.temperature.numpy()), step)
        w_.text("genotype", str(genotype), step)
        record["parameter_free_ops"] = count
        self.writer.flush()
        return record

    def _drawing(self, genotype_json: dict[str, Any]) -> bytes:
        """The derived cell's PNG; a search keeps the same genotype for many epochs, so an unchanged genotype
        reuses the last drawing (about 0.01-0.06 s of CPU each, tfnas/report/drawings.py)."""
        key = json.dumps(genotype_json, sort_keys=True)
        if self._drawn is None or self._drawn[0] != key:
            self._drawn = (key, draw_genotype(genotype_json))
        return self._drawn[1]


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback with epoch-level summaries at step k after epoch k (Keras writes k - 1).

    The architecture summaries, history.json and the progress lines all count completed epochs; so do
    the curves this writes.
    """

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch + 1, logs)
