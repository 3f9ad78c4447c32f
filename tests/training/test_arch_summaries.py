"""The collapse signals a search reports: parameter-free op counts and how decided each edge is."""
from __future__ import annotations

import numpy as np
import pytest

from tfnas.methods.differentiable_search import architecture_decision
from tfnas.spaces import darts, nasbench201
from tfnas.training.arch_summaries import parameter_free_count


def test_parameter_free_count_includes_none_edges_of_a_nasbench201_cell():
    cell = nasbench201.NasBench201Genotype(("none", "skip_connect", "nor_conv_3x3", "avg_pool_3x3", "none",
                                            "nor_conv_1x1"))
    assert parameter_free_count(cell) == 4


class _Supernet:
    """Just what architecture_decision reads: op names and per-edge probabilities."""

    def __init__(self, ops, probs):
        self.ops, self._probs = tuple(ops), probs

    def op_probabilities(self):
        return self._probs


def test_decision_names_each_edges_choice_runner_up_and_margin():
    probs = np.full((6, 5), 0.1)
    probs[:, 3] = 0.6  # nor_conv_3x3 wins everywhere ...
    probs[2] = [0.05, 0.45, 0.05, 0.4, 0.05]  # ... except edge 2, narrowly decided for skip_connect
    decision = architecture_decision(_Supernet(nasbench201.OPS, {"cell": probs}), [f"e{i}" for i in range(6)],
                                     none_choosable=True)
    cell = decision["cells"]["cell"]
    assert [e["op"] for e in cell["edges"]] == ["nor_conv_3x3"] * 2 + ["skip_connect"] + ["nor_conv_3x3"] * 3
    assert cell["edges"][2] == {"edge": "e2", "op": "skip_connect", "weight": 0.45, "runner_up": "nor_conv_3x3",
                                "margin": pytest.approx(0.05)}
    assert cell["min_margin"] == pytest.approx(0.05)
    assert 0.5 < cell["entropy_ratio"] < 1.0


def test_decision_on_darts_cells_ignores_none_which_derivation_never_chooses():
    probs = np.full((darts.NUM_EDGES, len(darts.OPS)), 0.05)
    probs[:, darts.OPS.index("none")] = 0.5
    probs[:, darts.OPS.index("sep_conv_3x3")] = 0.2
    decision = architecture_decision(_Supernet(darts.OPS, {"normal": probs}), [str(i) for i in range(14)],
                                     none_choosable=False)
    edge = decision["cells"]["normal"]["edges"][0]
    assert edge["op"] == "sep_conv_3x3" and edge["margin"] == pytest.approx(0.15)
