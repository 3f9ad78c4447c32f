"""Real candidate training: a tiny progressive PNAS run on the embedded MNIST trains Keras child
networks one after another, scores them on held-out training images, and frees each one."""
import gc

import numpy as np
import pytest

import tfnas  # noqa: F401
from tfnas.search.api import run_search
from tfnas.search.pnas import ProgressiveSearcher
from tfnas.search.surrogates import Surrogate
from tfnas.search.training_evaluator import CandidateTraining, TrainingEvaluator
from tfnas.spaces import pnas


SEP_MAX = pnas.PnasGenotype(((1, "sep_conv_3x3", 0, "max_pool_3x3"),)).to_arch()


@pytest.fixture(scope="module")
def evaluator(mnist):
    def build(arch, num_classes, input_shape):
        return pnas.build_network(pnas.to_genotype(arch), num_classes, input_shape, cells_per_stage=1, filters=8)

    return TrainingEvaluator(mnist, build, CandidateTraining(epochs=1, batch_size=32, steps_per_epoch=8,
                                                             learning_rate=0.05))


@pytest.fixture(scope="module")
def sep_max_scores(evaluator) -> dict:
    """One trained SEP_MAX candidate under the default training, shared by the tests that compare with it."""
    return evaluator.evaluate(SEP_MAX)


def test_tiny_progressive_pnas_trains_real_candidates(evaluator):
    trained_before = evaluator.num_trained  # the evaluator is shared with this file's other tests, in any order
    searcher = ProgressiveSearcher(
        evaluator.metric, seed=0, max_blocks=2, beam_size=2, initial_cells=3,
        surrogate_factory=lambda enc: Surrogate(enc, ("mlp",), mlp=dict(num_members=2, units=16, embed_dim=16,
                                                                        epochs=20)))
    run_search(searcher, evaluator, 100)
    assert searcher.finished
    assert [len(h["arch"]["blocks"]) for h in searcher.history] == [1, 1, 1, 2, 2]
    assert evaluator.num_trained - trained_before == 5
    for h in searcher.history:
        m = h["metrics"]
        assert 0.0 <= m["val_accuracy"] <= 100.0 and np.isfinite(m["val_loss"]) and m["params"] > 0
    # the scores come from training: the candidates differ, and 8 SGD steps beat chance on average
    assert len({h["metrics"]["val_loss"] for h in searcher.history}) == 5
    assert np.mean([h["metrics"]["train_loss"] for h in searcher.history]) < np.log(10) + 0.5
    # the 2-block cells extend the best 1-block cells
    best_one = sorted(searcher.history[:3], key=lambda h: -h["metrics"]["val_accuracy"])[:2]
    parents = {pnas.to_genotype(h["arch"]).key() for h in best_one}
    assert all(pnas.PnasGenotype(tuple(map(tuple, h["arch"]["blocks"][:1]))).key() in parents
               for h in searcher.history[3:])
    assert len(searcher.spearman_log) == 1


def test_same_candidate_same_score_and_graphs_are_freed(evaluator, sep_max_scores):
    from tensorflow.python.framework import func_graph

    def train_graphs() -> set[int]:
        gc.collect()
        return {id(g) for g in gc.get_objects() if isinstance(g, func_graph.FuncGraph) and g.name == "train_function"}

    first = sep_max_scores  # trained before the other candidate below
    before = train_graphs()  # other tests' models may hold theirs; only the evaluator's count here
    evaluator.evaluate(pnas.PnasGenotype(((0, "identity", 1, "avg_pool_3x3"),)).to_arch())
    again = evaluator.evaluate(SEP_MAX)
    # every candidate starts from the same seed and batches: its score does not depend on order
    assert again["val_accuracy"] == first["val_accuracy"]
    assert again["val_loss"] == pytest.approx(first["val_loss"], rel=1e-4)
    # nothing of the trained candidates' train graphs survives (memory stays flat over a search)
    assert train_graphs() - before == set()


def test_weight_decay_is_coupled_l2_on_kernels_only_by_default():
    import tensorflow as tf
    from tfnas.search import training_evaluator as te

    assert CandidateTraining().weight_decay_type == "l2"
    model = pnas.build_network(pnas.PnasGenotype(((1, "sep_conv_3x3", 0, "conv_1x7_7x1"),)), 10, (8, 8, 1),
                               cells_per_stage=1, filters=4)
    kernels = te.kernel_variables(model)
    names = {w.name for w in kernels}
    assert any("depthwise_kernel" in n for n in names) and any("classifier" in n for n in names)
    assert not any("gamma" in n or "beta" in n or "bias" in n for n in names)  # BN and biases are not decayed
    te.add_kernel_l2(model, 1e-3)
    expected = 0.5 * 1e-3 * sum(float(tf.reduce_sum(tf.square(k))) for k in kernels)
    assert float(tf.add_n(model.losses)) == pytest.approx(expected, rel=1e-5)
    with tf.GradientTape() as tape:  # the penalty's gradient is weight_decay * kernel (PyTorch / TF-slim)
        penalty = tf.add_n(model.losses)
    grads = tape.gradient(penalty, kernels)
    np.testing.assert_allclose(grads[0].numpy(), 1e-3 * kernels[0].numpy(), rtol=1e-5)


def test_decoupled_weight_decay_trains_too(evaluator, sep_max_scores):
    decoupled = TrainingEvaluator(evaluator.data, evaluator.build_model,
                                  CandidateTraining(epochs=1, batch_size=32, steps_per_epoch=8, learning_rate=0.05,
                                                    weight_decay_type="decoupled"))
    a, b = decoupled.evaluate(SEP_MAX), sep_max_scores
    assert np.isfinite(a["val_loss"]) and a["train_loss"] != b["train_loss"]  # the default adds the L2 term
    with pytest.raises(ValueError, match="weight_decay_type"):
        TrainingEvaluator(evaluator.data, evaluator.build_model, CandidateTraining(weight_decay_type="adamw"))
