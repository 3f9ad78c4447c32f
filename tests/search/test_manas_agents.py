"""MANAS agents on synthetic bandits with a known answer, their exact JSON state and their settings."""
import json
import math

import numpy as np
import pytest

from tfnas.search.manas_agents import (AgentsError, Exp3Agents, LeastSquaresAgents, LossScale, UniformAgents,
                                       exp3_learning_rate, make_agents, zipf_probabilities)

N, K = 6, 5


def linear_problem(seed: int, n: int = N, k: int = K):
    """Per-(agent, arm) loss contributions with one clearly best arm per agent; the joint loss is their sum."""
    rng = np.random.default_rng(seed)
    contributions = rng.uniform(0.3, 1.0, (n, k)) / n
    best = rng.integers(k, size=n)
    contributions[np.arange(n), best] = 0.1 / n
    return contributions, best


def play(agents, contributions, rounds: int, noise_seed: int, noise: float = 0.05) -> np.ndarray:
    """Run ``rounds`` rounds with loss = sum of the chosen contributions + N(0, noise), clipped to [0, 1];
    returns each round's expected regret against the best joint choice."""
    rng = np.random.default_rng(noise_seed)
    rows = np.arange(len(contributions))
    regret = []
    for _ in range(rounds):
        actions = agents.sample()
        expected = contributions[rows, actions].sum()
        agents.update(actions, float(np.clip(expected + rng.normal(0.0, noise), 0.0, 1.0)))
        regret.append(expected - contributions.min(axis=1).sum())
    return np.array(regret)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_least_squares_identifies_every_agents_best_arm(seed):
    contributions, best = linear_problem(seed)
    agents = LeastSquaresAgents([K] * N, seed=seed)
    play(agents, contributions, 200, noise_seed=100 + seed)
    assert agents.recommend().tolist() == best.tolist()
    assert np.nanargmin(agents.contributions(), axis=1).tolist() == best.tolist()
    # the fitted contributions recover the true ones up to one constant per agent (absorbed by the bias)
    fitted = agents.contributions()
    np.testing.assert_allclose(fitted - fitted.mean(1, keepdims=True),
                               contributions - contributions.mean(1, keepdims=True), atol=0.03)
    # Zipf over ranks: the best arm gets 1 / H_K, the worst 1 / (K H_K)
    harmonic = sum(1 / r for r in range(1, K + 1))
    np.testing.assert_allclose(agents.probabilities().max(1), 1 / harmonic)
    np.testing.assert_allclose(agents.probabilities().min(1), 1 / (K * harmonic))


@pytest.mark.parametrize("seed", [0, 1])
def test_exp3_cumulative_regret_grows_sublinearly(seed):
    contributions, _ = linear_problem(seed)
    rounds = 2000
    agents = Exp3Agents([K] * N, seed=seed, horizon=rounds)
    regret = play(agents, contributions, rounds, noise_seed=100 + seed)
    first, second = regret[: rounds // 2].sum(), regret[rounds // 2:].sum()
    assert second < 0.75 * first
    uniform = play(UniformAgents([K] * N, seed=seed), contributions, rounds, noise_seed=100 + seed)
    assert regret.sum() < 0.75 * uniform.sum()


def test_uniform_agents_never_change_their_distribution():
    agents = UniformAgents([K, 3, 1], seed=4)
    before = agents.probabilities()
    np.testing.assert_allclose(before[0], 1 / K)
    np.testing.assert_allclose(before[1], [1 / 3] * 3 + [0, 0])
    np.testing.assert_allclose(before[2], [1, 0, 0, 0, 0])
    for loss in (0.0, 1.0, 0.3) * 20:
        agents.update(agents.sample(), loss)
    np.testing.assert_array_equal(agents.probabilities(), before)
    assert agents.rounds == 60


def test_exp3_update_is_the_importance_weighted_loss_and_sampling_is_stable():
    agents = Exp3Agents([3, 3], seed=0, eta=0.5, gamma=0.3)
    np.testing.assert_allclose(agents.probabilities(), 1 / 3)
    agents.update([2, 0], 0.6)
    np.testing.assert_allclose(agents.accumulated, [[0, 0, 0.6 * 3], [0.6 * 3, 0, 0]])
    w = np.exp(-0.5 * np.array([0.0, 0.0, 1.8]))
    np.testing.assert_allclose(agents.probabilities()[0], 0.7 * w / w.sum() + 0.3 / 3)
    # huge accumulated losses: exp(-eta B) underflows without the min-shift; the distribution stays defined
    agents.accumulated[:] = [[1e6, 1e6 + 1, 1e6 + 1e5], [5e4, 5e4, 5e4]]
    p = agents.probabilities()
    assert np.isfinite(p).all() and p[0, 2] == pytest.approx(0.1) and p[1] == pytest.approx([1 / 3] * 3)


def test_exp3_default_learning_rate_is_the_fixed_horizon_rate():
    agents = Exp3Agents([5, 8], horizon=300)
    np.testing.assert_allclose(agents.eta, [math.sqrt(2 * math.log(5) / 1500), math.sqrt(2 * math.log(8) / 2400)])
    assert exp3_learning_rate(5, 300) == agents.eta[0]


def test_least_squares_fit_equals_the_batch_ridge_solution():
    rng = np.random.default_rng(0)
    arms = [3, 4, 2]
    agents = LeastSquaresAgents(arms, seed=1, ridge=0.5)
    rows, losses = [], []
    for _ in range(40):
        actions = agents.sample()
        loss = float(rng.uniform())
        agents.update(actions, loss)
        rows.append(np.concatenate([np.eye(k)[a] for k, a in zip(arms, actions)] + [[1.0]]))
        losses.append(loss)
    x, y = np.array(rows), np.array(losses)
    penalty = np.diag([0.5] * sum(arms) + [0.0])
    expected = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    np.testing.assert_allclose(agents.coefficients(), expected, rtol=1e-10, atol=1e-12)
    assert agents.bias() == pytest.approx(expected[-1])
    contributions = agents.contributions()
    np.testing.assert_allclose(contributions[1], expected[3:7])
    assert np.isnan(contributions[2, 2:]).all()  # padded arms


def test_zipf_over_ranks_and_ties():
    harmonic = 1 + 1 / 2 + 1 / 3 + 1 / 4
    np.testing.assert_allclose(zipf_probabilities(np.array([0.3, -0.1, 0.5, 0.0])),
                               np.array([1 / 3, 1, 1 / 4, 1 / 2]) / harmonic)
    # tied values share their ranks' mass; all tied is uniform
    p = zipf_probabilities(np.array([0.2, 0.0, 0.2, 0.7]))
    np.testing.assert_allclose(p, np.array([(1 / 2 + 1 / 3) / 2, 1, (1 / 2 + 1 / 3) / 2, 1 / 4]) / harmonic)
    np.testing.assert_allclose(zipf_probabilities(np.zeros(4)), 0.25)
    assert LeastSquaresAgents([4, 4]).probabilities() == pytest.approx(np.full((2, 4), 0.25))


@pytest.mark.parametrize("kind", ["exp3", "least_squares", "uniform"])
def test_json_state_round_trip_gives_identical_later_samples(kind):
    contributions, _ = linear_problem(7, n=4, k=3)
    agents = make_agents(kind, [3, 3, 3, 3], seed=11, horizon=100, gamma=0.1)
    play(agents, contributions, 25, noise_seed=1)
    state = json.loads(json.dumps(agents.get_state()))
    restored = make_agents(kind, [3, 3, 3, 3], seed=999, horizon=100, gamma=0.1)
    restored.set_state(state)
    np.testing.assert_array_equal(restored.probabilities(), agents.probabilities())
    for loss in np.linspace(0.1, 0.9, 15):
        a, b = agents.sample(), restored.sample()
        assert a.tolist() == b.tolist()
        agents.update(a, loss)
        restored.update(b, loss)
    assert json.dumps(restored.get_state()) == json.dumps(agents.get_state())


def test_recommend_is_argmax_and_does_not_disturb_sampling():
    agents = Exp3Agents([4, 4, 4], seed=3, eta=1.0)
    agents.accumulated[:] = [[3, 0, 5, 5], [1, 1, 0, 2], [0, 0, 0, 0]]
    twin = Exp3Agents([4, 4, 4], seed=3, eta=1.0)
    twin.set_state(agents.get_state())
    picks = agents.recommend()
    assert picks[:2].tolist() == [1, 2]
    assert agents.recommend().tolist() == picks.tolist()  # ties broken the same way every time
    # a uniform agent's argmax is a tie between every arm: recommendations over seeds cover them
    assert len({int(UniformAgents([4], seed=s).recommend()[0]) for s in range(20)}) == 4
    drawn = agents.recommend(sample=True)
    assert ((drawn >= 0) & (drawn < 4)).all()
    assert agents.sample().tolist() == twin.sample().tolist()


def test_unequal_arm_counts_sample_only_real_arms():
    agents = Exp3Agents([2, 5, 1], seed=0, eta=0.3)
    for _ in range(200):
        actions = agents.sample()
        assert 0 <= actions[0] < 2 and 0 <= actions[1] < 5 and actions[2] == 0
        agents.update(actions, 0.5)
    assert (agents.probabilities()[0, 2:] == 0).all() and agents.probabilities()[2, 0] == 1.0


def test_loss_scale():
    scale = LossScale.accuracy_percent()
    assert scale(94.0) == pytest.approx(0.06) and scale(0.0) == 1.0 and scale(101.0) == 0.0
    ce = LossScale.cross_entropy(10)
    assert ce(math.log(10) / 2) == pytest.approx(0.5) and ce(7.0) == 1.0
    with pytest.raises(AgentsError, match="two different finite values"):
        LossScale(1.0, 1.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="exp3", eta=0.0), "--eta must be a positive"),
    (dict(kind="exp3", eta=-1.0), "--eta must be a positive"),
    (dict(kind="exp3", eta=0.1, gamma=1.0), r"--gamma must lie in \[0, 1\)"),
    (dict(kind="exp3", eta=0.1, gamma=-0.1), r"--gamma must lie in \[0, 1\)"),
    (dict(kind="exp3"), "--max_rounds"),
    (dict(kind="least_squares", ridge=0.0), "--ls_ridge must be a positive"),
    (dict(kind="thompson"), "unknown agent kind 'thompson'"),
])
def test_bad_settings_are_refused(kwargs, message):
    kind = kwargs.pop("kind")
    with pytest.raises(AgentsError, match=message):
        make_agents(kind, [5] * 6, **kwargs)


def test_updates_are_checked():
    agents = LeastSquaresAgents([2, 2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        agents.update([0, 1], 1.5)
    with pytest.raises(ValueError, match="one arm per agent"):
        agents.update([0, 2], 0.5)
    assert agents.rounds == 0
