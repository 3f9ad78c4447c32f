"""Regularized (aging) evolution over NAS-Bench-201 (tabular) or PNAS cells (real training).

  python -m binaries.search_evolution --benchmark=nasbench201 --objective=cifar10 \
      --evolution_population_size=10 --evolution_tournament_size=5 --max_evaluations=100 --output_dir=runs/evolution
  python -m binaries.search_evolution --benchmark=nasbench201 --device=pixel3 --max_latency_ms=10 \
      --max_evaluations=300 --output_dir=runs/evolution_pixel3

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
    return _discrete.search("evolution")


main = _discrete.make_main(search)


if __name__ == "__main__":
    app.run(main)
