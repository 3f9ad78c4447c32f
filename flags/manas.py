"""Flags of binaries.search_manas (MANAS / MANAS-LS multi-agent search).

Tabular mode reuses the discrete searches' --benchmark, --benchmark_file and --objective; the
supernet mode (no --benchmark) reuses the common flags (--dataset, --batch_size, --epochs,
--steps_per_epoch, ...) and the differentiable searches' network and weight-optimiser flags
(--layers, --init_channels, --train_portion, --learning_rate, --min_learning_rate, --momentum,
--weight_decay, --grad_clip, --checkpoint_cells; the architecture-optimiser ones do not apply).
The settings the paper leaves open ([U]) are flags with the defaults docs/METHODS.md explains.
"""
from __future__ import annotations

from absl import flags

from flags import common
from flags import search as supernet_flags  # the differentiable searches' network and weight flags
from flags.discrete import BENCHMARK, BENCHMARK_FILE, OBJECTIVE  # shared with the discrete search binaries
from tfnas.methods.manas import VAL_BN, ManasConfig
from tfnas.search.manas import RECOMMEND_BY
from tfnas.search.manas_agents import AGENT_KINDS
from tfnas.spaces.manas import OPS

AGENT = flags.DEFINE_enum(
    "agent", "exp3", list(AGENT_KINDS),
    "exp3: MANAS (EXP3 on importance-weighted losses); least_squares: MANAS-LS (linear loss model, Zipf "
    "sampling over ranks); uniform: agents that never learn (the random baseline, same code path).")
ETA = flags.DEFINE_float(
    "eta", None, "exp3: learning rate, pi proportional to exp(-eta * B) [U]. Default: EXP3's fixed-horizon rate "
                 "sqrt(2 ln K / (T K)) with T = --max_rounds (then a run resumes only with the same --max_rounds).")
GAMMA = flags.DEFINE_float(
    "gamma", 0.0, "exp3: weight of the uniform distribution mixed into every agent's distribution, in [0, 1) [U].")
LS_RIDGE = flags.DEFINE_float(
    "ls_ridge", 1.0, "least_squares: ridge lambda on the per-op weights of the linear loss model (the bias is not "
                     "regularised) [U: the paper says least squares].")
LOSS_NOISE = flags.DEFINE_float(
    "loss_noise", 0.0, "Tabular mode: standard deviation of Gaussian noise added to the agents' loss "
                       "(1 - accuracy / 100) before clipping to [0, 1]; 0.01 = one accuracy point.")
RECOMMEND = flags.DEFINE_enum(
    "recommend", "argmax", list(RECOMMEND_BY),
    "The searched architecture (genotype.json): argmax of each agent's distribution (ties at random from the "
    "seed), or one sample from it [U].")
MAX_ROUNDS = flags.DEFINE_integer(
    "max_rounds", 300, "Tabular mode: rounds (one sampled architecture, one table loss, one agent update each).",
    lower_bound=1)
HEATMAP_EVERY = flags.DEFINE_integer(
    "heatmap_every", None, "TensorBoard: draw the agents' heatmaps every this many rounds, and at the first and last "
                           "(drawing one takes about half a second; one per cell in supernet mode). Default: 25 in "
                           "tabular mode, once per epoch in supernet mode.",
    lower_bound=1)

# --- supernet mode -------------------------------------------------------------------------------------
SHARE_CELLS = flags.DEFINE_bool(
    "share_cells", False, "Supernet mode: one set of agents per cell type (DARTS' normal and reduce cells, 2 x 14 "
                          "agents; writes a DARTS genotype) instead of one per cell (MANAS: --layers x 14 agents; "
                          "writes a MANAS genotype with one cell entry per cell).")
CANDIDATE_OPS = flags.DEFINE_list(
    "candidate_ops", list(OPS), "Supernet mode: every edge's candidate ops (default: DARTS' 8; a subset for "
                                "ablations, e.g. without 'none').")
BATCHES_PER_ROUND = flags.DEFINE_integer(
    "batches_per_round", 1, "Supernet mode: weight steps on training batches per round, and validation batches "
                            "whose mean loss the agents learn from [U: the paper's Algorithm 1 does not say; one "
                            "minibatch each].", lower_bound=1)
VAL_BN_FLAG = flags.DEFINE_enum(
    "val_bn", "batch", list(VAL_BN),
    "Supernet mode: BN in a round's validation pass normalises with the batch's statistics (as DARTS' architecture "
    "step) or the moving averages (which mix every path trained so far) [U].")
LOSS_CLIP = flags.DEFINE_float(
    "loss_clip", None, "Supernet mode: validation cross-entropy that counts as loss 1 for the agents (losses are "
                       "CE / loss_clip, clipped to [0, 1]) [U]. Default: ln(number of classes), a uniform guess.")
CHECKPOINT_EVERY = flags.DEFINE_integer(
    "checkpoint_every", 50, "Supernet mode: checkpoint weights, optimizer and agents together every this many rounds "
                            "(and after the last); a killed run replays the rounds since.", lower_bound=1)


def config() -> ManasConfig:
    """The flags as a ManasConfig."""
    return ManasConfig(
        output_dir=common.OUTPUT_DIR.value, agent=AGENT.value, eta=ETA.value, gamma=GAMMA.value,
        ridge=LS_RIDGE.value, loss_noise=LOSS_NOISE.value, recommend=RECOMMEND.value, seed=common.SEED.value,
        max_rounds=MAX_ROUNDS.value, benchmark=BENCHMARK.value, benchmark_file=BENCHMARK_FILE.value,
        objective=OBJECTIVE.value, heatmap_every=HEATMAP_EVERY.value, fresh=common.FRESH.value,
        verbose=bool(common.VERBOSE.value), dataset=common.DATASET.value, data_dir=common.DATA_DIR.value,
        image_size=common.IMAGE_SIZE.value, batch_size=common.BATCH_SIZE.value, epochs=common.EPOCHS.value,
        steps_per_epoch=common.STEPS_PER_EPOCH.value, layers=supernet_flags.LAYERS.value or 8,
        init_channels=supernet_flags.INIT_CHANNELS.value,
        **({} if supernet_flags.TRAIN_PORTION.value is None else {"train_portion": supernet_flags.TRAIN_PORTION.value}),
        learning_rate=supernet_flags.LEARNING_RATE.value, min_learning_rate=supernet_flags.MIN_LEARNING_RATE.value,
        momentum=supernet_flags.MOMENTUM.value, weight_decay=supernet_flags.WEIGHT_DECAY.value,
        grad_clip=supernet_flags.GRAD_CLIP.value, share_cells=SHARE_CELLS.value, ops=tuple(CANDIDATE_OPS.value),
        batches_per_round=BATCHES_PER_ROUND.value, val_bn=VAL_BN_FLAG.value, loss_clip=LOSS_CLIP.value,
        checkpoint_cells=supernet_flags.CHECKPOINT_CELLS.value is not False,  # default on, as for DARTS
        checkpoint_every=CHECKPOINT_EVERY.value, graph_optimization=common.GRAPH_OPTIMIZATION.value)
