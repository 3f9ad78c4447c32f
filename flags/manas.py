"""Flags of binaries.search_manas (MANAS / MANAS-LS multi-agent search).

Tabular mode reuses the discrete searches' --benchmark, --benchmark_file and --objective. The
agents' settings the paper leaves open ([U]) are flags with the defaults docs/METHODS.md explains.
"""
from __future__ import annotations

from absl import flags

from flags import common
from flags.discrete import BENCHMARK, BENCHMARK_FILE, OBJECTIVE  # shared with the discrete search binaries
from tfnas.methods.manas import ManasConfig
from tfnas.search.manas import RECOMMEND_BY
from tfnas.search.manas_agents import AGENT_KINDS

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
    "heatmap_every", 25, "TensorBoard: draw the agents' heatmaps every this many rounds, and at the first and last "
                          "(drawing one takes about half a second).",
    lower_bound=1)


def config() -> ManasConfig:
    """The flags as a ManasConfig."""
    return ManasConfig(
        output_dir=common.OUTPUT_DIR.value, agent=AGENT.value, eta=ETA.value, gamma=GAMMA.value,
        ridge=LS_RIDGE.value, loss_noise=LOSS_NOISE.value, recommend=RECOMMEND.value, seed=common.SEED.value,
        max_rounds=MAX_ROUNDS.value, benchmark=BENCHMARK.value, benchmark_file=BENCHMARK_FILE.value,
        objective=OBJECTIVE.value, heatmap_every=HEATMAP_EVERY.value, fresh=common.FRESH.value,
        verbose=bool(common.VERBOSE.value))
