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

from typing import Any, Mapping, Sequence

import numpy as np

from tfnas.search.api import Architecture, CategoricalSpace
from tfnas.search.manas import LOSS_METRIC
from tfnas.search.manas_agents import Agents, LeastSquaresAgents
from tfnas.report.figures import heatmap_png
from tfnas.summary_writer import SummaryWriter


def option_labels(space: CategoricalSpace) -> list[str]:
    """Column labels: the options' names when every choice has the same options, else their indices."""
    first = space.choices[0].options
    if all(c.options == first for c in space.choices):
        return [str(o) for o in first]
    return [f"option {k}" for k in range(max(len(c.options) for c in space.choices))]


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
