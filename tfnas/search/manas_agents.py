"""MANAS agents (Carlucci et al., 2019): one bandit agent per decision, vectorised, pure numpy.

A MANAS search gives every decision of the space (every edge of every cell) its own agent; an
agent's arms are that decision's options. Each round every agent samples one arm, the joint
architecture is evaluated once, and every agent is told the same scalar loss in [0, 1]. Three
kinds of agent share one interface, so the random baseline runs through the very same code:

* ``exp3`` (MANAS): importance-weighted accumulated loss per arm, ``B[k] += L * 1{a=k} / pi[k]``,
  sampling ``pi proportional to exp(-eta * B)``, optionally mixed with the uniform distribution:
  ``pi = (1 - gamma) pi + gamma / K``. ``eta`` defaults to EXP3's fixed-horizon rate
  ``sqrt(2 ln K / (T K))`` (Bubeck & Cesa-Bianchi 2012, Thm 3.1: pseudo-regret at most
  ``sqrt(2 T K ln K)`` for losses in [0, 1]), which needs the number of rounds T.
* ``least_squares`` (MANAS-LS): the loss is modelled as linear in the one-hot architecture
  (one weight per (agent, arm), plus an unregularised bias), fitted by ridge regression over every
  architecture evaluated so far. The fit keeps only the sufficient statistics ``A = sum x x^T``
  (integer co-occurrence counts) and ``b = sum L x``: a round adds to them and solves one
  (sum K + 1)-sized system, so its cost does not grow with the number of rounds and the state is
  exact in JSON. Each agent ranks its arms by fitted contribution (lowest loss first) and samples
  Zipf over ranks, ``pi[k] = 1 / (rank_k * H_K)``; arms whose contributions tie share the mean of
  their ranks' Zipf masses (so before any data every agent is uniform).
* ``uniform``: agents that never learn (the random-search baseline of the paper).

Everything an agent knows (accumulators, LS statistics, the PCG64 state of its sampler) is in
``get_state()`` as plain JSON, so a restored set of agents continues with identical samples.
Agents may have different numbers of arms; arrays are padded to the largest K and padded arms
have probability 0. Nothing here imports TensorFlow.
"""
from __future__ import annotations

import abc
import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np

from tfnas.errors import UserInputError

AGENT_KINDS: tuple[str, ...] = ("exp3", "least_squares", "uniform")
TIE_TOLERANCE = 1e-9
"""Fitted LS contributions (losses in [0, 1]) closer than this rank as ties."""


class AgentsError(UserInputError):
    """Agent settings that cannot work (unknown kind, eta <= 0, gamma outside [0, 1), ...)."""


@dataclasses.dataclass(frozen=True)
class LossScale:
    """Maps an objective value to the loss in [0, 1] the agents learn from.

    ``L = clip((value - zero) / (one - zero), 0, 1)``: ``zero`` is the value that means loss 0,
    ``one`` the value that means loss 1. EXP3's guarantees assume losses in [0, 1]; LS only ranks,
    so for it the scale changes nothing but the clipping.
    """

    zero: float
    one: float

    def __post_init__(self):
        if not (math.isfinite(self.zero) and math.isfinite(self.one)) or self.zero == self.one:
            raise AgentsError(f"a loss scale needs two different finite values for loss 0 and loss 1, "
                              f"got zero={self.zero}, one={self.one}")

    @classmethod
    def accuracy_percent(cls) -> "LossScale":
        """Tabular mode: ``L = 1 - accuracy / 100`` (the error rate)."""
        return cls(zero=100.0, one=0.0)

    @classmethod
    def cross_entropy(cls, num_classes: int, clip_at: float | None = None) -> "LossScale":
        """Supernet mode: ``L = min(CE / clip_at, 1)``; ``clip_at`` defaults to ln(num_classes), the
        cross-entropy of a uniform prediction (a worse-than-chance batch counts as loss 1)."""
        return cls(zero=0.0, one=float(clip_at if clip_at is not None else math.log(num_classes)))

    def __call__(self, value: float) -> float:
        return float(np.clip((float(value) - self.zero) / (self.one - self.zero), 0.0, 1.0))


class Agents(abc.ABC):
    """N agents with ``arms[i]`` arms each: sample, update with one shared loss, recommend."""

    kind = "agents"

    def __init__(self, arms: Sequence[int], seed: int = 0):
        arms = [int(k) for k in arms]
        if not arms or min(arms) < 1:
            raise AgentsError(f"every agent needs at least one arm, got arms={arms}")
        self.arms = np.asarray(arms, np.int64)
        self.mask = np.arange(max(arms))[None, :] < self.arms[:, None]  # [N, Kmax] real (not padded) arms
        self.seed = int(seed)
        self.rng = np.random.Generator(np.random.PCG64(self.seed))
        self.rounds = 0

    @property
    def num_agents(self) -> int:
        return len(self.arms)

    @property
    def max_arms(self) -> int:
        return self.mask.shape[1]

    # --- what the kinds define ------------------------------------------------------------------
    @abc.abstractmethod
    def probabilities(self) -> np.ndarray:
        """[N, Kmax] sampling distribution of every agent (rows sum to 1; padded arms 0)."""

    @abc.abstractmethod
    def _learn(self, actions: np.ndarray, loss: float) -> None:
        ...

    def _state(self) -> dict[str, Any]:
        return {}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        pass

    # --- the round -------------------------------------------------------------------------------
    def sample(self) -> np.ndarray:
        """One arm per agent, drawn from ``probabilities()`` with one uniform number per agent."""
        cumulative = np.cumsum(self.probabilities(), axis=1)
        u = self.rng.random(self.num_agents)
        return np.minimum((cumulative <= u[:, None]).sum(axis=1), self.arms - 1)

    def update(self, actions: Sequence[int], loss: float) -> None:
        """Tell every agent the loss (in [0, 1]) of the joint architecture ``actions`` it sampled."""
        actions = np.asarray(actions, np.int64)
        if actions.shape != (self.num_agents,) or (actions < 0).any() or (actions >= self.arms).any():
            raise ValueError(f"expected one arm per agent (arms {self.arms.tolist()}), got {actions.tolist()}")
        loss = float(loss)
        if not 0.0 <= loss <= 1.0:
            raise ValueError(f"agent losses must lie in [0, 1] (scale them with LossScale), got {loss}")
        self._learn(actions, loss)
        self.rounds += 1

    def recommend(self, sample: bool = False) -> np.ndarray:
        """Each agent's arm after the search: the argmax of its distribution (ties broken at random),
        or with ``sample`` one draw from it. The randomness comes from a generator derived from the
        seed and the round count, never from the sampler, so recommending changes no later sample."""
        rng = np.random.Generator(np.random.PCG64([self.seed, self.rounds, 1]))
        p = self.probabilities()
        if sample:
            u = rng.random(self.num_agents)
            return np.minimum((np.cumsum(p, axis=1) <= u[:, None]).sum(axis=1), self.arms - 1)
        best = (p >= p.max(axis=1, keepdims=True) - 1e-12) & self.mask
        return np.array([int(rng.choice(np.flatnonzero(row))) for row in best], np.int64)

    def entropy(self) -> np.ndarray:
        """[N] entropy (nats) of each agent's distribution."""
        p = self.probabilities()
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)

    # --- state ------------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {"kind": self.kind, "arms": self.arms.tolist(), "seed": self.seed, "rounds": self.rounds,
                "rng": self.rng.bit_generator.state, **self._state()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise ValueError(f"agent state was saved by {state.get('kind')!r} agents, not {self.kind!r}")
        if list(state["arms"]) != self.arms.tolist():
            raise ValueError(f"agent state has arms {state['arms']}, these agents {self.arms.tolist()}")
        self.seed, self.rounds = int(state["seed"]), int(state["rounds"])
        self.rng.bit_generator.state = state["rng"]
        self._set_state(state)

    def _padded(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        return np.where(self.mask, values, fill)


class UniformAgents(Agents):
    """Agents that never learn: every arm 1/K, every round (the random baseline)."""

    kind = "uniform"

    def probabilities(self) -> np.ndarray:
        return self._padded(1.0 / self.arms[:, None].astype(np.float64))

    def _learn(self, actions: np.ndarray, loss: float) -> None:
        pass


def exp3_learning_rate(arms: int, horizon: int) -> float:
    """EXP3's fixed-horizon rate for losses in [0, 1]: sqrt(2 ln K / (T K))."""
    return math.sqrt(2.0 * math.log(arms) / (horizon * arms))


class Exp3Agents(Agents):
    """MANAS' agents: EXP3 on importance-weighted accumulated losses.

    Args:
      eta: learning rate (one for all agents, or one per agent); None: ``exp3_learning_rate(K_i, horizon)``.
      gamma: weight of the uniform distribution mixed in (0: plain exponential weights).
      horizon: the number of rounds T, only needed when ``eta`` is None.
    """

    kind = "exp3"

    def __init__(self, arms: Sequence[int], seed: int = 0, eta: float | Sequence[float] | None = None,
                 gamma: float = 0.0, horizon: int | None = None):
        super().__init__(arms, seed)
        if eta is None:
            if horizon is None or horizon < 1:
                raise AgentsError("exp3 agents need a learning rate: pass --eta, or the number of rounds "
                                  f"(--max_rounds) for the default sqrt(2 ln K / (T K)); got horizon={horizon}")
            eta = [exp3_learning_rate(int(k), int(horizon)) for k in self.arms]  # 0 for a one-arm agent
        check_settings(eta=eta, gamma=gamma)
        eta = np.broadcast_to(np.asarray(eta, np.float64), (self.num_agents,)).copy()
        self.eta, self.gamma = eta, float(gamma)
        self.horizon = horizon
        self.accumulated = np.zeros(self.mask.shape)  # B[i, k]: importance-weighted loss so far

    def probabilities(self) -> np.ndarray:
        b = np.where(self.mask, self.accumulated, np.inf)
        b_min = b.min(axis=1, keepdims=True)
        weights = np.where(self.mask, np.exp(-self.eta[:, None] * (np.where(self.mask, b, b_min) - b_min)), 0.0)
        p = weights / weights.sum(axis=1, keepdims=True)
        return self._padded((1.0 - self.gamma) * p + self.gamma / self.arms[:, None])

    def _learn(self, actions: np.ndarray, loss: float) -> None:
        rows = np.arange(self.num_agents)
        chosen = self.probabilities()[rows, actions]  # the distribution the actions were drawn from
        self.accumulated[rows, actions] += loss / chosen

    def _state(self) -> dict[str, Any]:
        return {"eta": self.eta.tolist(), "gamma": self.gamma, "horizon": self.horizon,
                "accumulated": self.accumulated.tolist()}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        saved = {"eta": list(state["eta"]), "gamma": state["gamma"]}
        if saved != {"eta": self.eta.tolist(), "gamma": self.gamma}:
            raise ValueError(f"agent state was saved with {saved}, these agents have eta={self.eta.tolist()}, "
                             f"gamma={self.gamma}")
        self.accumulated = np.asarray(state["accumulated"], np.float64).reshape(self.mask.shape)


def zipf_probabilities(values: np.ndarray, tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """Zipf over the ranks of ``values`` (rank 1 = smallest): p = 1 / (rank * H_K); tied values share
    the mean of their ranks' masses."""
    k = len(values)
    mass = 1.0 / (np.arange(1, k + 1) * np.sum(1.0 / np.arange(1, k + 1)))
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    p = np.empty(k)
    start = 0
    for end in range(1, k + 1):
        if end == k or sorted_values[end] - sorted_values[end - 1] > tolerance:
            p[order[start:end]] = mass[start:end].mean()
            start = end
    return p


class LeastSquaresAgents(Agents):
    """MANAS-LS: a ridge fit of the loss on the one-hot architecture, Zipf sampling over ranks.

    Features: one per (agent, arm), plus a bias that is not regularised (so contributions are
    relative to the mean loss). ``ridge`` (lambda) regularises the one-hot weights; it makes the
    fit unique (the one-hots of each agent sum to the bias) and shrinks rarely tried arms toward 0.
    """

    kind = "least_squares"

    def __init__(self, arms: Sequence[int], seed: int = 0, ridge: float = 1.0):
        super().__init__(arms, seed)
        check_settings(ridge=ridge)
        self.ridge = float(ridge)
        self.offsets = np.concatenate([[0], np.cumsum(self.arms)[:-1]])
        self.num_features = int(self.arms.sum()) + 1  # + bias
        self.gram = np.zeros((self.num_features, self.num_features), np.int64)  # A = sum x x^T (counts)
        self.moment = np.zeros(self.num_features)  # b = sum L x
        self._theta: np.ndarray | None = None

    def _features(self, actions: np.ndarray) -> np.ndarray:
        return np.concatenate([self.offsets + actions, [self.num_features - 1]])

    def _learn(self, actions: np.ndarray, loss: float) -> None:
        idx = self._features(actions)
        self.gram[np.ix_(idx, idx)] += 1
        self.moment[idx] += loss
        self._theta = None

    def coefficients(self) -> np.ndarray:
        """The fitted weights (one per (agent, arm), then the bias); zeros before any data."""
        if self._theta is None:
            if self.rounds == 0:
                self._theta = np.zeros(self.num_features)
            else:
                penalty = np.full(self.num_features, self.ridge)
                penalty[-1] = 0.0
                self._theta = np.linalg.solve(self.gram + np.diag(penalty), self.moment)
        return self._theta

    def contributions(self) -> np.ndarray:
        """[N, Kmax] fitted loss contribution of every arm of every agent (padded arms NaN)."""
        theta = self.coefficients()
        index = np.where(self.mask, self.offsets[:, None] + np.arange(self.max_arms)[None, :], 0)
        return np.where(self.mask, theta[index], np.nan)

    def bias(self) -> float:
        return float(self.coefficients()[-1])

    def probabilities(self) -> np.ndarray:
        c = self.contributions()
        p = np.zeros(self.mask.shape)
        for i, k in enumerate(self.arms):
            p[i, :k] = zipf_probabilities(c[i, :k])
        return p

    def _state(self) -> dict[str, Any]:
        return {"ridge": self.ridge, "gram": self.gram.tolist(), "moment": self.moment.tolist()}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        if state["ridge"] != self.ridge:
            raise ValueError(f"agent state was saved with ridge={state['ridge']}, these agents have {self.ridge}")
        self.gram = np.asarray(state["gram"], np.int64).reshape(self.gram.shape)
        self.moment = np.asarray(state["moment"], np.float64).reshape(self.moment.shape)
        self._theta = None


def check_settings(kind: str | None = None, eta: float | Sequence[float] | None = None, gamma: float = 0.0,
                   ridge: float = 1.0) -> None:
    """Raise AgentsError naming the first unusable setting (every kind's settings are checked, so a
    bad value is refused even where this kind ignores it)."""
    if kind is not None and kind not in AGENT_KINDS:
        raise AgentsError(f"unknown agent kind {kind!r}; choose one of {list(AGENT_KINDS)}")
    if eta is not None:
        given = np.asarray(eta, np.float64)
        if not (np.isfinite(given).all() and (given > 0).all()):
            raise AgentsError(f"--eta must be a positive finite learning rate, got {_show(given)}; "
                              "leave it unset for EXP3's sqrt(2 ln K / (T K))")
    if not 0.0 <= gamma < 1.0:
        raise AgentsError(f"--gamma must lie in [0, 1) (the weight of uniform exploration), got {gamma}")
    if not (math.isfinite(ridge) and ridge > 0):
        raise AgentsError(f"--ls_ridge must be a positive finite number, got {ridge}")


AGENTS: dict[str, type[Agents]] = {cls.kind: cls for cls in (Exp3Agents, LeastSquaresAgents, UniformAgents)}


def make_agents(kind: str, arms: Sequence[int], seed: int = 0, eta: float | None = None, gamma: float = 0.0,
                horizon: int | None = None, ridge: float = 1.0) -> Agents:
    """Agents of ``kind``; the settings of other kinds are ignored (so one call serves every kind)."""
    check_settings(kind)
    if kind == "exp3":
        return Exp3Agents(arms, seed, eta=eta, gamma=gamma, horizon=horizon)
    if kind == "least_squares":
        return LeastSquaresAgents(arms, seed, ridge=ridge)
    return UniformAgents(arms, seed)


def _show(values: np.ndarray) -> str:
    unique = np.unique(np.ravel(values))
    return f"{unique[0]:g}" if len(unique) == 1 else str(np.ravel(values).tolist())


__all__ = ["AGENTS", "AGENT_KINDS", "Agents", "AgentsError", "Exp3Agents", "LeastSquaresAgents", "LossScale",
           "UniformAgents", "check_settings", "exp3_learning_rate", "make_agents", "zipf_probabilities"]
