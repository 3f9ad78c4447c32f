"""HURRICANE search: hard latency limit (never evaluated above it), SPOS evolution, two-stage plans, errors."""
from __future__ import annotations

import json

import pytest

import tfnas  # noqa: F401

from tfnas.hardware import latency_table as lt
from tfnas.hardware import space_generation as sg
from tfnas.methods import hurricane as method
from tfnas.search.api import SearchSpaceError, run_search
from tfnas.search.spos_evolution import SPOSEvolution
from tfnas.spaces import hurricane

CONFIG = hurricane.HurricaneConfig(32, 0.25, input_channels=1, num_classes=10)
OPS = ("mbconv_k3_e1", "mbconv_k3_e3", "mbconv_k5_e6", "shufflenet_k3", "sep_conv_3x3_se")
COST = {"mbconv_k3_e1": 0.01, "mbconv_k3_e3": 0.02, "mbconv_k5_e6": 0.05, "shufflenet_k3": 0.012,
        "sep_conv_3x3_se": 0.03}


def _table() -> lt.LatencyTable:
    return lt.LatencyTable.from_function(CONFIG, lambda p, op: COST[op] * (1 + p.index / 20), ops=OPS, fixed_ms=0.1)


class CapacityEvaluator:
    """A stand-in fitness that prefers heavier ops, so the search pushes against the latency limit."""

    def __init__(self, plan, table, limit):
        self.plan, self.table, self.limit, self.seen = plan, table, limit, []

    def evaluate(self, arch):
        ops = method.full_ops(self.plan, arch)
        latency = self.table.predict(ops)
        self.seen.append(latency)
        return {"accuracy": sum(COST[op] for op in ops), "predicted_latency_ms": latency}


def _stage(table, limit, searched=tuple(range(20))):
    plan = method.StagePlan("spos", searched, {i: "mbconv_k3_e1" for i in range(20) if i not in searched}, ())
    generated = [list(OPS)] * 20
    return plan, method.stage_space(plan, generated, method.latency_constraint(table, plan, limit))


def test_evolution_never_evaluates_a_candidate_over_the_limit(tmp_path):
    table = _table()
    fastest, _ = table.fastest([OPS] * 20)
    slowest = table.predict(("mbconv_k5_e6",) * 20)
    limit = fastest + 0.3 * (slowest - fastest)
    plan, space = _stage(table, limit)
    searcher = SPOSEvolution(space, "accuracy", seed=1, population_size=12, num_parents=4, num_mutations=6,
                             num_crossovers=6)
    evaluator = CapacityEvaluator(plan, table, limit)
    run_search(searcher, evaluator, 48, state_path=str(tmp_path / "state.json"))
    assert len(evaluator.seen) == 48 and max(evaluator.seen) <= limit
    keys = [space.key(h["arch"]) for h in searcher.history]
    assert len(set(keys)) == len(keys)  # never evaluates the same architecture twice
    assert searcher.generation >= 4
    # Evolution improves on the random first generation under the same limit.
    first = max(h["metrics"]["accuracy"] for h in searcher.history[:12])
    assert searcher.best()["metrics"]["accuracy"] > first


def test_evolution_resumes_to_the_same_result(tmp_path):
    table = _table()
    limit = table.fastest([OPS] * 20)[0] * 1.5
    plan, space = _stage(table, limit)

    def make():
        return SPOSEvolution(space, "accuracy", seed=3, population_size=8, num_parents=3, num_mutations=4,
                             num_crossovers=4)

    full = run_search(make(), CapacityEvaluator(plan, table, limit), 30)
    state = str(tmp_path / "state.json")
    run_search(make(), CapacityEvaluator(plan, table, limit), 13, state_path=state)
    resumed = run_search(make(), CapacityEvaluator(plan, table, limit), 30, state_path=state)
    assert [h["arch"] for h in resumed.history] == [h["arch"] for h in full.history]


def test_limit_below_the_fastest_architecture_is_a_clear_error():
    table = _table()
    fastest, _ = table.fastest([OPS] * 20)
    with pytest.raises(method.HurricaneError, match="below the fastest architecture.*raise the limit"):
        method.check_limit(table, [OPS] * 20, fastest * 0.9)
    assert method.check_limit(table, [OPS] * 20, fastest) == pytest.approx(fastest)


def test_two_stage_plans_fix_the_other_layers():
    table = _table()
    generated = sg.generate_space(table, top_k=3).candidates
    settings = method.SearchSettings(max_latency_ms=10.0, stages=2, stage_split=8)
    (first,) = method.plans(generated, table, settings)
    assert first.searched == tuple(range(8, 20))
    assert all(first.fixed[i] == min(generated[i], key=lambda op: table.op_latency(i, op)) for i in range(8))
    result = method.StageResult("stage1", tuple(["mbconv_k3_e3"] * 20), 0.5, 1.0, 1.0, 1.0, [])
    second = method.second_plan(result, settings)
    assert second.searched == tuple(range(8)) and second.frozen == tuple(range(8, 20))
    cands = second.candidates(generated)
    assert cands[3] == generated[3] and cands[12] == ["mbconv_k3_e3"]
    with pytest.raises(method.HurricaneError, match="--stages"):
        method.plans(generated, table, method.SearchSettings(max_latency_ms=1.0, stages=3))


def test_table_round_trips_through_json_and_predicts_the_same(tmp_path):
    table = _table()
    path = str(tmp_path / "t.json")
    table.save(path)
    again = lt.LatencyTable.load(path, CONFIG)
    ops = ("shufflenet_k3",) * 10 + ("mbconv_k5_e6",) * 10
    assert again.predict(ops) == table.predict(ops)
    assert json.loads(open(path).read())["geometry"]["resolution"] == 32


def test_stage_budgets_follow_the_searched_layers_unless_given():
    settings = method.SearchSettings(max_latency_ms=1.0, epochs=10, stage_split=8)
    assert settings.stage_epochs("spos") == 10
    assert (settings.stage_epochs("stage1"), settings.stage_epochs("stage2")) == (6, 4)  # 12 and 8 of 20 layers
    assert method.SearchSettings(max_latency_ms=1.0, epochs=3).stage_epochs("stage2") == 1
    given = method.SearchSettings(max_latency_ms=1.0, epochs=10, stage1_epochs=2, stage2_epochs=7)
    assert (given.stage_epochs("stage1"), given.stage_epochs("stage2")) == (2, 7)
    bad = method.HurricaneSearchConfig(output_dir="x", device_table="t.json", max_latency_ms=1.0, stage2_epochs=0)
    with pytest.raises(method.HurricaneError, match="--stage2_epochs must be at least 1"):
        bad.validate()


def test_supernet_loss_smooths_labels_as_spos():
    import numpy as np
    import tensorflow as tf

    logits = tf.constant([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    labels = tf.constant([0, 2])
    smoothed = float(tf.reduce_mean(method.supernet_loss(0.1)(labels, logits)))
    log_p = tf.nn.log_softmax(logits).numpy()
    target = np.full((2, 3), 0.1 / 3) + 0.9 * np.eye(3)[[0, 2]]
    assert smoothed == pytest.approx(float(-(target * log_p).sum(1).mean()), rel=1e-5)
    plain = float(tf.reduce_mean(method.supernet_loss(0.0)(labels, logits)))
    assert plain == pytest.approx(float(-log_p[[0, 1], [0, 2]].mean()), rel=1e-5)


def test_stage2_starts_from_stage1s_best_when_the_limit_leaves_it_almost_alone():
    """Stage 1's best right at the limit: random draws of the early layers find nothing else feasible."""
    table = _table()
    generated = [list(OPS)] * 20
    settings = method.SearchSettings(max_latency_ms=10.0, stages=2, stage_split=8)
    (first,) = method.plans(generated, table, settings)
    best1 = tuple(first.fixed[i] if i < 8 else "mbconv_k5_e6" for i in range(20))
    limit = table.predict(best1)  # only the early layers' fastest ops fit beside these later layers
    second = method.second_plan(method.StageResult("stage1", best1, 0.5, limit, 1.0, 1.0, []), settings)
    space = method.stage_space(second, generated, method.latency_constraint(table, second, limit))
    assert second.start_arch() == [{hurricane.choice_name(i): best1[i] for i in range(8)}]
    # without the starting point the first generation finds nothing feasible
    with pytest.raises(SearchSpaceError, match="infeasible"):
        SPOSEvolution(space, "accuracy", seed=0, population_size=4, num_parents=2).ask(1)
    searcher = SPOSEvolution(space, "accuracy", seed=0, population_size=4, num_parents=2, initial=second.start_arch())
    evaluator = CapacityEvaluator(second, table, limit)
    with pytest.raises(method.SpaceExhausted):
        run_search(searcher, evaluator, 8)
    assert method.full_ops(second, searcher.best()["arch"]) == best1 and max(evaluator.seen) <= limit
