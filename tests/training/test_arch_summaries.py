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


def test_heatmap_marks_the_derived_op_and_fits_its_colour_scale_to_near_uniform_weights():
    import io

    from PIL import Image

    from tfnas.report.figures import heatmap_png
    from tfnas.training.arch_summaries import chosen_ops

    ops = ["none", "skip_connect", "nor_conv_3x3"]
    weights = np.array([[0.40, 0.31, 0.29], [0.30, 0.33, 0.37]])
    assert chosen_ops(weights, ops, none_choosable=False) == [1, 2]  # DARTS derivation never takes none
    assert chosen_ops(weights, ops, none_choosable=True) == [0, 2]
    png, height, width = heatmap_png(weights, ["e0", "e1"], ops, "op weights after epoch 3", [1, 2])
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert image.shape[:2] == (height, width)
    # near-uniform weights still span the whole colour map: many distinct colours, not one
    assert len({tuple(p) for p in image.reshape(-1, 3)[::7]}) > 50


def test_keras_curves_and_architecture_summaries_share_steps(tmp_path):
    import glob

    import tensorflow as tf

    from tfnas.training.arch_summaries import EpochTensorBoard

    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    model.compile("sgd", "mse")
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=2, verbose=0,
              callbacks=[EpochTensorBoard(str(tmp_path), write_graph=False)])
    steps = {e.step for f in glob.glob(str(tmp_path / "train" / "events.*"))
             for e in tf.compat.v1.train.summary_iterator(f) if any(v.tag == "epoch_loss" for v in e.summary.value)}
    assert steps == {1, 2}  # after epoch k at step k, as the architecture summaries (0 = initial)


def test_the_cell_image_is_written_every_epoch_and_redrawn_only_when_the_genotype_changes(tmp_path, monkeypatch):
    import glob

    import tensorflow as tf

    from tfnas.supernets.differentiable import NasBench201Supernet
    from tfnas.training import arch_summaries

    drawn = []
    real_draw = arch_summaries.draw_genotype
    monkeypatch.setattr(arch_summaries, "draw_genotype", lambda g: drawn.append(g) or real_draw(g))
    net = NasBench201Supernet(10, init_channels=4, layers=1)
    net(tf.zeros([1, 8, 8, 1]))
    summary = arch_summaries.ArchitectureSummary(net, str(tmp_path))
    summary.write(0)
    summary.write(1)  # same architecture: the drawing is reused
    alpha = net.alphas["cell"]
    alpha.assign(alpha + 5.0 * tf.one_hot([1] * alpha.shape[0], alpha.shape[1]))  # skip_connect everywhere
    summary.write(2)
    assert [g["ops"] if "ops" in g else g for g in drawn] == [drawn[0]["ops"], ["skip_connect"] * 6]
    images = [(e.step, v.tensor.string_val[2]) for f in glob.glob(str(tmp_path / "events.*"))
              for e in tf.compat.v1.train.summary_iterator(f) for v in e.summary.value if v.tag == "genotype/cell"]
    assert [step for step, _ in images] == [0, 1, 2]
    assert images[0][1] == images[1][1] != images[2][1]
