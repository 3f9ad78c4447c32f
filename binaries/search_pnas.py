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
from flags import common, discrete
from tfnas.search.pnas import ProgressiveSearcher, SMBOSearcher
from tfnas.search.surrogates import Surrogate

flags_help.show_in_help()


def surrogate_factory(tabular: bool):
    kinds = discrete.pnas_surrogate_kinds(tabular)
    config = dict(num_members=discrete.PNAS_ENSEMBLE_SIZE.value, embed_dim=discrete.PNAS_SURROGATE_UNITS.value,
                  units=discrete.PNAS_SURROGATE_UNITS.value, epochs=discrete.PNAS_SURROGATE_EPOCHS.value,
                  learning_rate=discrete.PNAS_SURROGATE_LR.value,
                  target_transform=discrete.pnas_target_transform(tabular),
                  refit=discrete.PNAS_SURROGATE_REFIT.value, refit_epochs=discrete.PNAS_SURROGATE_REFIT_EPOCHS.value,
                  restart_growth=discrete.PNAS_SURROGATE_RESTART_GROWTH.value or None,
                  refit_new_fraction=discrete.PNAS_SURROGATE_REFIT_NEW_FRACTION.value)
    settings = {"surrogate": list(kinds), **{f"surrogate_{k}": v for k, v in config.items()}}
    return (lambda encoder: Surrogate(encoder, kinds, **{k: config for k in kinds})), settings


def search():
    growth = discrete.PNAS_SURROGATE_RESTART_GROWTH.value
    if 0 < growth <= 1:
        raise _discrete.FlagError(f"--pnas_surrogate_restart_growth={growth} must be > 1 (a growth factor) or 0 "
                                  "(never restart warm refits from scratch)")
    tabular = discrete.BENCHMARK.value is not None
    s = _discrete.setup("pnas", progressive=not tabular)
    factory, settings = surrogate_factory(tabular)
    s.config.update(settings)
    if tabular:
        s.config.update(smbo_batch_size=discrete.SMBO_BATCH_SIZE.value, smbo_initial_size=discrete.SMBO_INITIAL_SIZE.value)
        searcher = SMBOSearcher(s.space, s.metric, seed=common.SEED.value, mode=s.mode, batch_size=discrete.SMBO_BATCH_SIZE.value,
                                initial_size=discrete.SMBO_INITIAL_SIZE.value, surrogate_factory=factory)
        return _discrete.run(searcher, s, "pnas_smbo", _discrete.max_evaluations())
    else:
        s.config.update(beam_size=discrete.PNAS_BEAM_SIZE.value, initial_cells=discrete.PNAS_INITIAL_CELLS.value)
        searcher = ProgressiveSearcher(s.metric, seed=common.SEED.value, max_blocks=discrete.PNAS_BLOCKS.value,
                                       beam_size=discrete.PNAS_BEAM_SIZE.value, surrogate_factory=factory,
                                       initial_cells=discrete.PNAS_INITIAL_CELLS.value)
        return _discrete.run(searcher, s, "pnas", _discrete.max_evaluations(default=None))


main = _discrete.make_main(search)


if __name__ == "__main__":
    app.run(main)
