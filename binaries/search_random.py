"""Random search over NAS-Bench-201 (tabular) or PNAS cells of --pnas_blocks blocks (real training).

  python -m binaries.search_random --benchmark=nasbench201 --objective=cifar10 \
      --max_evaluations=100 --seed=0 --output_dir=runs/random
  python -m binaries.search_random --dataset=mnist_embedded --pnas_blocks=2 --pnas_cells=1 \
      --pnas_filters=8 --pnas_epochs_per_candidate=1 --max_evaluations=5 --output_dir=runs/random_real

Writes genotype.json, search_summary.json, searcher_state.json (resume: re-run with the same
--output_dir) and TensorBoard scalars to --output_dir.
"""
import tfnas  # noqa: F401  (Keras 2 before TensorFlow)

import flags as flags_help

from absl import app

from binaries import _discrete
from flags import common, discrete  # noqa: F401  (its flags)

flags_help.show_in_help()


def search() -> dict:
    return _discrete.search("random")


main = _discrete.make_main(search)


if __name__ == "__main__":
    app.run(main)
