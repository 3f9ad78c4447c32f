"""DARTS bi-level search (Liu et al., 2019), first or second order (--order), the Single-DARTS baseline.

  python -m binaries.search_darts --space=darts --order=1 --dataset=cifar10 --output_dir=runs/darts
Writes <output_dir>/genotype.json, search_summary.json, TensorBoard events; re-run to resume.
"""
import tfnas  # noqa: F401  (selects Keras 2 before TensorFlow is imported)

import flags as flags_help

from absl import app
from absl import flags as absl_flags

import flags.common  # noqa: F401
import flags.search  # noqa: F401
from binaries import _search_common

flags_help.show_in_help()


absl_flags.mark_flag_as_required("output_dir")
main = _search_common.make_main("darts")

if __name__ == "__main__":
    app.run(main)
