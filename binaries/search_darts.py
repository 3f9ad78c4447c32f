"""DARTS bi-level search (Liu et al., 2019), first or second order (--order), the Single-DARTS baseline.

  python -m binaries.search_darts --space=darts --order=1 --dataset=cifar10 --output_dir=runs/darts
Writes <output_dir>/genotype.json, search_summary.json, TensorBoard events; re-run to resume.
"""
import tfnas  # noqa: F401  (selects Keras 2 before TensorFlow is imported)

from absl import app
from absl import flags as absl_flags

import flags.common  # noqa: F401
import flags.search  # noqa: F401
from binaries import _search_common
from tfnas.logs import quiet_tensorflow_logs

absl_flags.mark_flag_as_required("output_dir")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    quiet_tensorflow_logs()
    _search_common.run("darts")


if __name__ == "__main__":
    app.run(main)
