"""PNAS: progressive search with LSTM / MLP predictor ensembles.

Real mode (default) is the paper's progressive search in its block-cell space, every candidate
a Keras child network trained on --dataset, with the paper's settings by default (B=5, K=256,
N=2, F=24, 20 epochs, LSTM and MLP predictor ensembles regressing the accuracy, every block
concatenated into the cell output as in PNASNet-5):

  python -m binaries.search_pnas --dataset=cifar10 --output_dir=runs/pnas
  python -m binaries.search_pnas --dataset=mnist_embedded --pnas_blocks=2 --pnas_beam_size=2 \
      --pnas_initial_cells=4 --pnas_cells=1 --pnas_filters=8 --pnas_epochs_per_candidate=1 \
      --steps_per_epoch=5 --output_dir=runs/pnas_tiny

Tabular mode runs PNAS' SMBO core on NAS-Bench-201 (a cell there has no partial form, so the
predictor ranks all unseen cells and the top --smbo_batch_size are evaluated per refit; its
predictor defaults are measured ones: the MLP ensemble with rank targets):

  python -m binaries.search_pnas --benchmark=nasbench201 --objective=cifar10 --max_evaluations=100 \
      --output_dir=runs/pnas_nb201

Writes genotype.json, search_summary.json (with the predictor's Spearman per batch),
searcher_state.json (resume: re-run with the same --output_dir) and TensorBoard scalars.
"""
import tfnas  # noqa: F401  (Keras 2 before TensorFlow)

import flags as flags_help

from absl import app

from binaries import _discrete
from flags import common, discrete  # noqa: F401  (its flags)

flags_help.show_in_help()


def search() -> dict:
    return _discrete.search("pnas")


main = _discrete.make_main(search)


if __name__ == "__main__":
    app.run(main)
