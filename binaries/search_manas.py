"""MANAS / MANAS-LS: multi-agent architecture search, one bandit agent per decision.

  python -m binaries.search_manas --benchmark=nasbench201 --objective=cifar10 --max_rounds=300 \
      --agent=exp3 --output_dir=runs/manas_exp3
  python -m binaries.search_manas --benchmark=nasbench201 --agent=least_squares --loss_noise=0.01 \
      --output_dir=runs/manas_ls
  python -m binaries.search_manas --benchmark=nasbench201 --agent=uniform --output_dir=runs/manas_uniform

Tabular mode (--benchmark=nasbench201): 6 agents (the cell's edges) x 5 ops, the round's loss
from the NAS-Bench-201 table. Writes genotype.json (the agents' recommendation),
search_summary.json (every round's arch and metrics), searcher_state.json (re-run the same
command to resume; --fresh starts over) and TensorBoard events (tensorboard/manas: the agents'
heatmaps, entropy, loss) to --output_dir.

  python -m binaries.search_manas --agent=exp3 --dataset=cifar10 --epochs=50 --output_dir=runs/manas_cifar
  python -m binaries.search_manas --agent=least_squares --share_cells --dataset=cifar10 --output_dir=runs/manas_ls
  python -m binaries.train --genotype=runs/manas_cifar/genotype.json --dataset=cifar10 --output_dir=runs/manas_train

Supernet mode (no --benchmark): the sampled DARTS supernet on --dataset, one agent per edge of every
cell (8 cells x 14 edges = 112 agents by default; --share_cells: DARTS' normal and reduce cells).
Each round the agents sample a path, the weights take a step on a training batch through it, and
every agent learns from the path's validation loss. Writes genotype.json (a MANAS genotype with one
cell entry per cell, trained at its own depth by binaries.train), search_summary.json,
history.json, checkpoints (weights, optimizer and agents together; re-run to resume) and
TensorBoard events (tensorboard/manas: per-cell heatmaps and entropy, the validation loss per round).
"""
import tfnas  # noqa: F401  (Keras 2 before TensorFlow, should anything import it)

import flags as flags_help

import sys

from absl import app, flags

from flags import common, manas
from tfnas.errors import exit_on_user_error
from tfnas.methods.manas import run_manas_search

flags_help.show_in_help()


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parsing, but a bad flag value (e.g. an unknown --agent) is one ``error:`` line, exit 2."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        print(f"error: {e} (see --helpfull)", file=sys.stderr)
        raise SystemExit(2) from None


def search() -> dict:
    return run_manas_search(manas.config())


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from tfnas.logs import quiet_tensorflow_logs

    quiet_tensorflow_logs()
    with exit_on_user_error():
        common.require_one_device("search_manas", "its agents train one sampled path per round in this process")
        summary = search()
    if summary.get("mode") == "supernet":
        last = summary["history"][-1] if summary["history"] else {}
        print(f"manas ({summary['config']['agent']}, supernet): {summary['rounds']} rounds over "
              f"{summary['agents_count']} agents, last validation loss {last.get('val_loss', float('nan')):.4f}, "
              f"{summary['parameter_free_ops']} parameter-free ops in the genotype -> {common.OUTPUT_DIR.value}")
        return
    rec = summary["recommended"]
    metric = summary["objective"]
    print(f"manas ({summary['config']['agent']}): {summary['num_evaluated']} rounds, recommended {rec} "
          f"({metric}={summary['recommended_metrics'][metric]:.2f}), best sampled "
          f"{summary['best']['metrics'][metric]:.2f} -> {common.OUTPUT_DIR.value}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
