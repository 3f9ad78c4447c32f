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
heatmaps, entropy, loss) to --output_dir. Supernet mode (no --benchmark) is not in this build yet.
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
    rec = summary["recommended"]
    metric = summary["objective"]
    print(f"manas ({summary['config']['agent']}): {summary['num_evaluated']} rounds, recommended {rec} "
          f"({metric}={summary['recommended_metrics'][metric]:.2f}), best sampled "
          f"{summary['best']['metrics'][metric]:.2f} -> {common.OUTPUT_DIR.value}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
