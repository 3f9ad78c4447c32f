"""MANAS as an ask/tell searcher: every choice of a CategoricalSpace is one agent.

One round (Algorithm 1 of Carlucci et al.) is one ``ask`` -> evaluate -> ``tell``: the agents
sample an architecture, the evaluator answers its metrics (a table look-up in tabular mode, the
validation loss of the sampled path in supernet mode), and every agent learns from the same loss,
the objective mapped into [0, 1] by a ``LossScale`` (optionally with Gaussian noise, to see how
the agents cope with the noisy losses a supernet gives). Because MANAS re-evaluates whatever the
agents sample, repeats are evaluated again (unlike random search, which redraws them).

The searcher's state is the base history and RNG (which draws the loss noise) plus the agents'
complete state, so ``run_search`` / ``run_to_output_dir`` resume a killed search exactly. The
search's answer is ``recommend()`` (the agents' argmax, or a draw with ``recommend_by="sample"``),
which ``run_to_output_dir`` writes as genotype.json; ``best()`` stays the best architecture sampled.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from tfnas.search.api import Architecture, CategoricalSpace, Searcher, SearchSpaceError
from tfnas.search.manas_agents import Agents, AgentsError, LossScale, check_settings, make_agents

RECOMMEND_BY = ("argmax", "sample")
LOSS_METRIC = "loss"
"""Name under which every history entry records the loss the agents were told (noise included)."""


def check_search_settings(agent: str, eta: float | None = None, gamma: float = 0.0, ridge: float = 1.0,
                          loss_noise: float = 0.0, recommend_by: str = "argmax") -> None:
    """Raise AgentsError naming the first unusable setting; cheap, so drivers call it before heavy work."""
    check_settings(agent, eta, gamma, ridge)
    if recommend_by not in RECOMMEND_BY:
        raise AgentsError(f"unknown --recommend {recommend_by!r}; choose one of {list(RECOMMEND_BY)}")
    if not (math.isfinite(loss_noise) and loss_noise >= 0):
        raise AgentsError(f"--loss_noise must be a standard deviation >= 0, got {loss_noise}")


class ManasSearcher(Searcher):
    """MANAS / MANAS-LS / uniform agents over ``space``, one agent per choice.

    Args:
      space: a CategoricalSpace without constraints (independent agents cannot honour a joint
        constraint without biasing their importance weights).
      objective: the metric the agents learn from (larger is better with ``mode="max"``).
      agent: ``exp3`` (MANAS), ``least_squares`` (MANAS-LS) or ``uniform`` (random baseline).
      eta, gamma, horizon: EXP3's learning rate, uniform mix and the round budget that sets the
        default eta (see ``Exp3Agents``). ridge: MANAS-LS' regularisation.
      loss_scale: objective value -> loss in [0, 1]; default ``LossScale.accuracy_percent()``
        (``1 - accuracy / 100``) for ``mode="max"``; a "min" objective needs an explicit scale.
      loss_noise: standard deviation of Gaussian noise added to the scaled loss before it is
        clipped to [0, 1] (0.01 = one accuracy point on the default scale).
      recommend_by: ``argmax`` (each agent's most probable arm) or ``sample`` (one draw).
    """

    name = "manas"

    def __init__(self, space: CategoricalSpace, objective: str, agent: str = "exp3", seed: int = 0,
                 mode: str = "max", eta: float | None = None, gamma: float = 0.0, horizon: int | None = None,
                 ridge: float = 1.0, loss_scale: LossScale | None = None, loss_noise: float = 0.0,
                 recommend_by: str = "argmax"):
        super().__init__(space, objective, seed, mode)
        if space.constraints:
            raise SearchSpaceError(f"MANAS agents sample every choice independently and cannot keep to the space's "
                                   f"constraints {[c.name for c in space.constraints]}; search the unconstrained space")
        check_search_settings(agent, eta, gamma, ridge, loss_noise, recommend_by)
        if loss_scale is None:
            if mode != "max":
                raise AgentsError(f"objective {objective!r} is minimised: give a LossScale that maps it into [0, 1]")
            loss_scale = LossScale.accuracy_percent()
        self.agent = agent
        self.loss_scale = loss_scale
        self.loss_noise = float(loss_noise)
        self.recommend_by = recommend_by
        self.agents: Agents = make_agents(agent, [len(c.options) for c in space.choices], seed,
                                          eta=eta, gamma=gamma, horizon=horizon, ridge=ridge)
        # The loss noise has its own stream (the agents' sampler is seeded with the plain seed).
        self.rng = np.random.Generator(np.random.PCG64([seed, 2]))
        self._pending: list[int] | None = None  # the architecture asked and not yet told

    # --- ask / tell -------------------------------------------------------------------------------
    def _propose(self) -> Architecture:
        if self._pending is not None:
            raise RuntimeError("MANAS proposes one architecture per round: tell the result of the previous ask first")
        actions = self.agents.sample()
        self._pending = actions.tolist()
        return self.space.decode(actions)

    def loss(self, metrics: Mapping[str, float]) -> float:
        """The loss the agents learn from: the scaled objective, plus noise, clipped to [0, 1]."""
        loss = self.loss_scale(float(metrics[self.objective]))
        if self.loss_noise:
            loss += float(self.rng.normal(0.0, self.loss_noise))
        return float(np.clip(loss, 0.0, 1.0))

    def tell(self, arch: Architecture, metrics: Mapping[str, float]) -> None:
        actions = list(self.space.encode(arch))
        if actions != self._pending:
            raise ValueError(f"MANAS agents learn only from the architecture they sampled ({self._pending}); "
                             f"got {actions}")
        if self.objective not in metrics:
            raise KeyError(f"evaluator returned {sorted(metrics)} without the objective {self.objective!r}")
        loss = self.loss(metrics)
        self.agents.update(actions, loss)
        self._pending = None
        super().tell(arch, {**metrics, LOSS_METRIC: loss})

    # --- results ------------------------------------------------------------------------------------
    def recommend(self) -> Architecture:
        """The search's answer: every agent's arm by ``recommend_by``."""
        return self.space.decode(self.agents.recommend(sample=self.recommend_by == "sample"))

    # --- state --------------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "agent": self.agent, "loss_noise": self.loss_noise,
                "loss_scale": [self.loss_scale.zero, self.loss_scale.one], "recommend_by": self.recommend_by,
                "agents": self.agents.get_state(), "pending": self._pending}

    def set_state(self, state: Mapping[str, Any]) -> None:
        saved = {k: state.get(k) for k in ("agent", "loss_noise", "loss_scale", "recommend_by")}
        mine = {"agent": self.agent, "loss_noise": self.loss_noise,
                "loss_scale": [self.loss_scale.zero, self.loss_scale.one], "recommend_by": self.recommend_by}
        if saved != mine:
            raise ValueError(f"state was saved by a MANAS search with {saved}, this one has {mine}")
        super().set_state(state)
        self.agents.set_state(state["agents"])
        self._pending = None if state.get("pending") is None else list(state["pending"])


__all__ = ["LOSS_METRIC", "ManasSearcher", "RECOMMEND_BY", "check_search_settings"]
