"""MANAS' supernet mode: rounds of Algorithm 1 on the sampled DARTS supernet, resumably.

A round (Carlucci et al., Algorithm 1):
  1. every agent samples an op for its edge: the path Z_t;
  2. ``batches_per_round`` weight steps on training batches through Z_t (``PathSGD``: only the
     path's ops are differentiated and updated; DARTS' weight recipe: SGD 0.025 cosine to 0.001,
     momentum 0.9, weight decay 3e-4, gradient clip 5);
  3. the validation loss (cross-entropy) of Z_t at the updated weights, averaged over as many
     validation batches (BN on the batch's statistics by default, ``val_bn``);
  4. every agent is told that loss, scaled into [0, 1] (``LossScale.cross_entropy``).
The paper does not say how many batches make a round; one of each is the default (docs/METHODS.md).

Resume: every ``checkpoint_every`` rounds (and after the last) one tf.train checkpoint holds the
weights, the optimizer's slots and step count, the supernet's path, the number of completed
rounds and the agents' complete JSON state (accumulators or LS statistics and their sampler's RNG,
as a ``JsonState`` inside the same checkpoint), so weights and agents are always a consistent pair.
The data position is a function of the completed rounds (``train_stream`` is a stateless function
of (seed, epoch, position)), weight initialisation is seeded, and nothing else is random, so a run
killed at any point and re-run with the same command replays the rounds after the last checkpoint
exactly and ends with the genotype an uninterrupted run writes. history.json (one record per round)
is written before each checkpoint and cut back to the checkpoint's rounds on resume.

Outputs in the run directory: genotype.json (a MANAS genotype with one cell per cell, or a DARTS
genotype with ``share_cells``), search_summary.json (configuration, rounds, wall time, the
recommendation, the agents' final distributions, per-round history), history.json, checkpoints/,
tensorboard/manas (per cell: heatmaps of the agents' distributions and, for MANAS-LS, of the fitted
per-op contributions; per-cell entropy; the sampled path's validation loss per round).
"""
from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfnas import data as data_lib
from tfnas.errors import ConfigError, TrainingDiverged
from tfnas.files import write_json
from tfnas.run_dir import RunDirectory
from tfnas.graph_optimization import applies_config_graph_optimization
from tfnas.search.manas import LOSS_METRIC
from tfnas.search.manas_agents import Agents, LossScale, make_agents
from tfnas.search.manas_summaries import ManasTensorBoard
from tfnas.spaces import manas as manas_space
from tfnas.spaces.base import save_genotype
from tfnas.supernets.manas_supernet import ManasSupernet
from tfnas.supernets.path_sampling import PathSGD
from tfnas.training.arch_summaries import parameter_free_count
from tfnas.training.checkpointing import JsonState, ResumableState
from tfnas.training.schedules import EpochCosineDecay

keras = tf.keras
VAL_METRIC = "val_loss"


def path_string(actions) -> str:
    """A path as one digit per agent (op index in ``tfnas.spaces.manas.OPS``): compact history records."""
    return "".join(str(int(a)) for a in actions)


def build_supernet(config, num_classes: int, image_shape, schedule) -> ManasSupernet:
    """The compiled search network of ``config`` (a ``ManasConfig``) with every candidate's weights,
    its weights trained with ``schedule`` (a learning-rate schedule over weight steps)."""
    supernet = ManasSupernet(num_classes, config.init_channels, config.layers, share_cells=config.share_cells,
                             ops=config.ops, checkpoint=config.checkpoint_cells, grad_clip=config.grad_clip or None,
                             seed=config.seed, input_shape=image_shape)
    optimizer = PathSGD(schedule, momentum=config.momentum, weight_decay_l2=config.weight_decay).attach(supernet)
    supernet.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return supernet


class RoundFunctions:
    """The pieces of a round: weight steps on the current path, its validation loss.

    They run eagerly: the path is known, so only its ops run and only its variables are
    differentiated and updated (``PathSamplingSupernet.variables_on_path``; exactly what a traced
    step with ``PathSGD``'s masks computes). Tracing instead would build one switch branch and its
    gradient per candidate op (896 at the search configuration), which takes many minutes and GiBs.
    """

    def __init__(self, supernet: ManasSupernet, val_bn: str):
        self.supernet = supernet
        self.train = supernet.train_step
        batch_statistics = val_bn == "batch"
        ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        def validation(images, labels):
            return ce(labels, supernet(images, training=batch_statistics))

        self.validation = validation

    def run(self, path: np.ndarray, train_batches, val_batches) -> tuple[float, float]:
        """Train on ``train_batches`` through ``path`` then return (mean train loss, mean validation loss)."""
        self.supernet.use_path(path)
        train_losses = []
        for batch in train_batches:
            self.supernet.loss_tracker.reset_state()
            train_losses.append(float(self.train(batch)["loss"]))
        val_losses = [float(self.validation(*batch)) for batch in val_batches]
        return float(np.mean(train_losses)), float(np.mean(val_losses))


@applies_config_graph_optimization
def run_supernet_search(config, after_round: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run or resume the supernet search ``config`` (a checked ``ManasConfig``) describes."""
    from tfnas.methods.manas import agents_summary

    space = manas_space.manas_space(config.layers, config.share_cells, config.ops)
    run_dir = RunDirectory(config.output_dir, fresh=config.fresh)
    run_dir.check_config(config.run_settings(), resumable_keys=())
    tf.keras.utils.set_random_seed(config.seed)
    data = data_lib.load_image_data(config.dataset, config.data_dir, config.image_size)
    train_idx, val_idx = data.search_split(config.train_portion, seed=config.seed)
    b = config.batches_per_round
    batches = min(data_lib.steps_for(len(train_idx), config.batch_size, config.steps_per_epoch),
                  data_lib.steps_for(len(val_idx), config.batch_size, config.steps_per_epoch))
    rounds_per_epoch = batches // b
    if rounds_per_epoch == 0:
        raise ConfigError(f"--batches_per_round={b} is more than the {batches} batches an epoch has; lower it")
    batches = rounds_per_epoch * b  # per epoch and split
    total_rounds = config.epochs * rounds_per_epoch
    agents = make_agents(config.agent, [len(c.options) for c in space.choices], config.seed, eta=config.eta,
                         gamma=config.gamma, horizon=total_rounds, ridge=config.ridge)
    scale = LossScale.cross_entropy(data.num_classes, config.loss_clip)
    schedule = EpochCosineDecay(config.learning_rate, config.min_learning_rate, config.epochs, batches)
    supernet = build_supernet(config, data.num_classes, data.image_shape, schedule)
    state = ResumableState(supernet, run_dir, agents=JsonState(agents.get_state, agents.set_state))
    done = state.restore_latest()  # completed rounds (the checkpoint's counter)
    if agents.rounds != done:
        raise RuntimeError(f"checkpoint holds {done} rounds but agents that learnt from {agents.rounds}")
    history = [h for h in run_dir.history() if h["round"] <= done]
    wall_before, started = float(state.wall_time.numpy()), time.time()

    augment = data_lib.Augment.standard(data)

    def stream(indices, seed):
        position = done * b  # batches of this split consumed so far
        ds = data_lib.train_stream(data, indices, config.batch_size, seed, augment, position // batches, batches)
        return iter(ds.skip(position % batches))

    train, val = stream(train_idx, config.seed), stream(val_idx, config.seed + 1)
    edges = manas_space.darts.NUM_EDGES  # one heatmap and entropy curve per cell (or shared cell type)
    groups = {g: list(range(k * edges, (k + 1) * edges))
              for k, g in enumerate(manas_space.cell_groups(config.layers, config.share_cells))}
    board = ManasTensorBoard(os.path.join(run_dir.tensorboard, "manas"), space, VAL_METRIC,
                             config.heatmap_every or rounds_per_epoch, last_round=total_rounds, groups=groups)
    functions = RoundFunctions(supernet, config.val_bn)

    def save(rounds: int) -> None:
        wall = wall_before + time.time() - started
        write_json(run_dir.history_path, history)  # first: a resume cuts it back to the checkpoint
        state.save(rounds, wall)

    try:
        for r in range(done, total_rounds):
            actions = agents.sample()
            train_loss, val_loss = functions.run(actions.astype(np.int32), [next(train) for _ in range(b)],
                                                 [next(val) for _ in range(b)])
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                raise TrainingDiverged(
                    f"the loss became {train_loss if not math.isfinite(train_loss) else val_loss} in round {r + 1}; "
                    f"everything up to round {int(state.epoch.numpy())} is kept in {run_dir.path}. Lower "
                    "--learning_rate or --grad_clip and re-run; the search resumes from there.")
            loss = scale(val_loss)
            agents.update(actions, loss)
            lr = float(schedule(supernet.optimizer.iterations - 1))  # the rate of the round's last step
            history.append({"round": r + 1, "epoch": r // rounds_per_epoch + 1, "path": path_string(actions),
                            "train_loss": round(train_loss, 6), VAL_METRIC: round(val_loss, 6),
                            LOSS_METRIC: round(loss, 6), "learning_rate": lr})
            board.on_round(r + 1, agents, space.decode(actions), {LOSS_METRIC: loss, VAL_METRIC: val_loss})
            board.writer.scalars({"train/loss": train_loss, "train/learning_rate": lr}, r + 1)
            if (r + 1) % config.checkpoint_every == 0 or r + 1 == total_rounds:
                save(r + 1)
            if after_round is not None:
                after_round(r + 1)
    finally:
        board.close()
    genotype = recommend(agents, config.layers, config.share_cells, config.recommend, config.seed, config.ops)
    save_genotype(genotype, run_dir.file("genotype.json"))
    summary = {
        "method": "manas", "mode": "supernet", "space": genotype.SPACE, "dataset": config.dataset,
        "seed": config.seed, "config": config.run_settings(), "agents_count": len(space.choices),
        "rounds": total_rounds, "rounds_per_epoch": rounds_per_epoch,
        "wall_time_s": round(float(state.wall_time.numpy()), 2), "genotype": genotype.to_json(),
        "parameter_free_ops": parameter_free_count(genotype), "supernet_params": supernet.count_params(),
        "loss": f"validation cross-entropy / {scale.one:.4g} (ln {data.num_classes} unless --loss_clip), clipped to [0, 1]",
        "agents": agents_summary(agents, space), "history": history, "tensorboard": run_dir.tensorboard,
    }
    write_json(run_dir.file("search_summary.json"), summary)
    return summary


def recommend(agents: Agents, layers: int, share_cells: bool, by: str, seed: int,
              ops: Sequence[str] = manas_space.OPS):
    """The searched genotype: DARTS' derivation over every agent's distribution (``argmax``) or over one
    draw from it (``sample``, one-hot scores); ties broken from a generator of (seed, rounds), never
    from the agents' sampler."""
    probabilities = agents.probabilities()
    if by == "sample":
        probabilities = np.eye(agents.max_arms)[agents.recommend(sample=True)]
    rng = np.random.Generator(np.random.PCG64([seed, agents.rounds, 2]))
    return manas_space.derive_genotype(probabilities, layers, share_cells, rng, ops)


__all__ = ["RoundFunctions", "build_supernet", "path_string", "recommend", "run_supernet_search"]
