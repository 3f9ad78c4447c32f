"""TensorBoard views of a MANAS search, written without TensorFlow.

Every round: the loss the agents were told, the sampled architecture's objective, and the mean
entropy of the agents' distributions. Every ``heatmap_every`` rounds (and the last): a heatmap
of every agent's sampling distribution (agents x options, the sampled option outlined, the
colour scale fitted to the values shown) and, for MANAS-LS, a heatmap of the fitted per-option
loss contributions (diverging scale centred at 0, each agent's lowest contribution outlined).

All of it goes through ``ManasTensorBoard.on_round``, the one place that writes events, so the
project's TensorBoard writer can take it over. Events are written with the tensorboard package's
record writer and protos, not its EventFileWriter (which imports TensorFlow whenever it is
installed, for tf.io.gfile): a tabular search needs no TensorFlow. Images are drawn with
matplotlib (Agg) and stored as PNG.
"""
from __future__ import annotations

import io
import os
import socket
import time
from typing import Any, Mapping, Sequence

import numpy as np

from tfnas.search.api import Architecture, CategoricalSpace
from tfnas.search.manas import LOSS_METRIC
from tfnas.search.manas_agents import Agents, LeastSquaresAgents


def option_labels(space: CategoricalSpace) -> list[str]:
    """Column labels: the options' names when every choice has the same options, else their indices."""
    first = space.choices[0].options
    if all(c.options == first for c in space.choices):
        return [str(o) for o in first]
    return [f"option {k}" for k in range(max(len(c.options) for c in space.choices))]


def heatmap_png(values: np.ndarray, rows: Sequence[str], columns: Sequence[str], title: str,
                marked: Sequence[int], diverging: bool = False) -> tuple[bytes, int, int]:
    """RGBA PNG (bytes, height, width) of ``values`` [rows, columns] with every value printed and one cell
    per row outlined (``marked[i]``); NaN cells (padded options) are left blank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finite = values[np.isfinite(values)]
    if diverging:
        limit = max(float(np.abs(finite).max()) if finite.size else 0.0, 1e-9)
        vmin, vmax, cmap = -limit, limit, "coolwarm"
    else:
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if vmax - vmin < 1e-9:
            vmin, vmax = vmin - 1e-3, vmax + 1e-3
        cmap = "viridis"
    height, width = len(rows), len(columns)
    # Fixed margins sized from the labels (tight_layout would measure every text: most of the cost).
    left, bottom = 0.35 + 0.075 * max(map(len, rows)), 0.25 + 0.045 * max(map(len, columns))
    fig_w, fig_h = left + 0.95 * width + 1.0, bottom + 0.32 * height + 0.4
    fig = plt.figure(figsize=(fig_w, fig_h), dpi=100)
    ax = fig.add_axes((left / fig_w, bottom / fig_h, 0.95 * width / fig_w, 0.32 * height / fig_h))
    bar = fig.add_axes(((left + 0.95 * width + 0.15) / fig_w, bottom / fig_h, 0.15 / fig_w, 0.32 * height / fig_h))
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    colours = image.cmap(image.norm(np.nan_to_num(values)))
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            r, g, b, _ = colours[i, j]
            ax.text(j, i, f"{v:.3f}" if abs(v) < 10 else f"{v:.3g}", ha="center", va="center", fontsize=8,
                    color="black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white")
    for i, j in enumerate(marked):
        ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2.4,
                                                  edgecolor="black" if diverging else "red"))
    ax.set_xticks(range(width), list(columns), rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(height), list(rows), fontsize=8)
    ax.set_title(title, fontsize=8, loc="left")
    fig.colorbar(image, cax=bar).ax.tick_params(labelsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    h, w = (int(x) for x in fig.canvas.get_width_height()[::-1])
    return buf.getvalue(), h, w


class EventFile:
    """An append-only TensorBoard event file in ``logdir`` (local paths; no TensorFlow)."""

    def __init__(self, logdir: str):
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        os.makedirs(logdir, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{id(self)}"
        self._file = open(os.path.join(logdir, name), "ab")
        self._records = RecordWriter(self._file)
        self.add(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def add(self, event) -> None:
        self._records.write(event.SerializeToString())

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class ManasTensorBoard:
    """Writes a MANAS search's TensorBoard events to ``logdir`` (one ``on_round`` call per round)."""

    def __init__(self, logdir: str, space: CategoricalSpace, objective: str, heatmap_every: int = 25,
                 last_round: int | None = None):
        self.writer = EventFile(logdir)
        self.space = space
        self.objective = objective
        self.heatmap_every = max(1, int(heatmap_every))
        self.last_round = last_round
        self.rows = space.names
        self.columns = option_labels(space)

    def on_round(self, round: int, agents: Agents, arch: Architecture, metrics: Mapping[str, Any]) -> None:
        """Everything MANAS shows for round ``round`` (1-based) after the agents learnt from it."""
        from tensorboard.compat.proto import summary_pb2

        values = [summary_pb2.Summary.Value(tag="manas/mean_entropy", simple_value=float(agents.entropy().mean()))]
        for key, tag in ((LOSS_METRIC, "manas/loss"), (self.objective, f"manas/{self.objective}")):
            if key in metrics:
                values.append(summary_pb2.Summary.Value(tag=tag, simple_value=float(metrics[key])))
        if isinstance(agents, LeastSquaresAgents):
            values.append(summary_pb2.Summary.Value(tag="manas/ls_bias", simple_value=agents.bias()))
        if round % self.heatmap_every == 0 or round == 1 or round == self.last_round:
            sampled = self.space.encode(arch)
            probabilities = np.where(agents.mask, agents.probabilities(), np.nan)
            values.append(self._image("manas/probabilities", probabilities, sampled,
                                      f"round {round}: sampling probabilities ({agents.kind}; outlined: sampled)"))
            if isinstance(agents, LeastSquaresAgents):
                contributions = agents.contributions()
                best = np.nanargmin(contributions, axis=1)
                values.append(self._image("manas/ls_contributions", contributions, best,
                                          f"round {round}: fitted loss contribution per option "
                                          "(outlined: lowest)", diverging=True))
        self._write(round, values)

    def _image(self, tag: str, values: np.ndarray, marked: Sequence[int], title: str, diverging: bool = False):
        from tensorboard.compat.proto import summary_pb2

        png, height, width = heatmap_png(values, self.rows, self.columns, title, list(marked), diverging)
        return summary_pb2.Summary.Value(tag=tag, image=summary_pb2.Summary.Image(
            height=height, width=width, colorspace=4, encoded_image_string=png))

    def _write(self, step: int, values: list) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2

        self.writer.add(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=values)))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


__all__ = ["EventFile", "ManasTensorBoard", "heatmap_png", "option_labels"]
