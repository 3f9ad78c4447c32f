"""TensorBoard views of a MANAS search, written without TensorFlow.

Every round: the loss the agents were told, the sampled architecture's objective, and the mean
entropy of the agents' distributions. Every ``heatmap_every`` rounds (and the last): a heatmap
of every agent's sampling distribution (agents x options, the sampled option outlined, the
colour scale fitted to the values shown) and, for MANAS-LS, a heatmap of the fitted per-option
loss contributions (diverging scale centred at 0, each agent's lowest contribution outlined).

With ``groups`` (the supernet mode: one group of agents per cell, e.g. ``cell3`` -> its 14 edges)
every group gets its own heatmaps (``manas/probabilities/<group>``, ``manas/ls_contributions/<group>``,
rows named by the edge) and its mean entropy per round (``manas/entropy/<group>``), and the
per-agent entropies go into one histogram per round (``manas/agent_entropy``).

All of it goes through ``ManasTensorBoard.on_round`` and the project's one TensorBoard writer
(``tfnas.summary_writer``, no TensorFlow: a tabular search needs none). Images are drawn with
matplotlib (Agg) and stored as PNG.
"""
from __future__ import annotations

import io
from typing import Any, Mapping, Sequence

import numpy as np

from tfnas.search.api import Architecture, CategoricalSpace
from tfnas.search.manas import LOSS_METRIC
from tfnas.search.manas_agents import Agents, LeastSquaresAgents
from tfnas.summary_writer import SummaryWriter


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


class ManasTensorBoard:
    """Writes a MANAS search's TensorBoard events to ``logdir`` (one ``on_round`` call per round)."""

    def __init__(self, logdir: str, space: CategoricalSpace, objective: str, heatmap_every: int = 25,
                 last_round: int | None = None, groups: Mapping[str, Sequence[int]] | None = None):
        self.writer = SummaryWriter(logdir)
        self.space = space
        self.objective = objective
        self.heatmap_every = max(1, int(heatmap_every))
        self.last_round = last_round
        self.columns = option_labels(space)
        names = space.names
        if groups is None:
            self.groups = {"": list(range(len(names)))}
            self.rows = {"": names}
        else:
            self.groups = {g: [int(i) for i in rows] for g, rows in groups.items()}
            self.rows = {g: [names[i].split("/", 1)[-1] if names[i].startswith(f"{g}/") else names[i] for i in rows]
                         for g, rows in self.groups.items()}

    def on_round(self, round: int, agents: Agents, arch: Architecture, metrics: Mapping[str, Any]) -> None:
        """Everything MANAS shows for round ``round`` (1-based) after the agents learnt from it."""
        w = self.writer
        entropy = agents.entropy()
        w.scalar("manas/mean_entropy", float(entropy.mean()), round)
        if len(self.groups) > 1:
            for group, rows in self.groups.items():
                w.scalar(f"manas/entropy/{group}", float(entropy[rows].mean()), round)
            w.histogram("manas/agent_entropy", entropy.tolist(), round)
        for key, tag in ((LOSS_METRIC, "manas/loss"), (self.objective, f"manas/{self.objective}")):
            if key in metrics:
                w.scalar(tag, float(metrics[key]), round)
        if isinstance(agents, LeastSquaresAgents):
            w.scalar("manas/ls_bias", agents.bias(), round)
        if round % self.heatmap_every == 0 or round == 1 or round == self.last_round:
            sampled = np.asarray(self.space.encode(arch))
            probabilities = np.where(agents.mask, agents.probabilities(), np.nan)
            contributions = agents.contributions() if isinstance(agents, LeastSquaresAgents) else None
            for group, rows in self.groups.items():
                suffix, where = (f"/{group}", f"{group}, ") if group else ("", "")
                self._image(f"manas/probabilities{suffix}", group, probabilities[rows], sampled[rows], round,
                            f"round {round}: {where}sampling probabilities ({agents.kind}; outlined: sampled)")
                if contributions is not None:
                    self._image(f"manas/ls_contributions{suffix}", group, contributions[rows],
                                np.nanargmin(contributions[rows], axis=1), round,
                                f"round {round}: {where}fitted loss contribution per option (outlined: lowest)",
                                diverging=True)
        w.flush()

    def _image(self, tag: str, group: str, values: np.ndarray, marked: Sequence[int], step: int, title: str,
               diverging: bool = False) -> None:
        png, _, _ = heatmap_png(values, self.rows[group], self.columns, title, list(marked), diverging)
        self.writer.image(tag, png, step)

    def close(self) -> None:
        self.writer.close()


__all__ = ["ManasTensorBoard", "heatmap_png", "option_labels"]
