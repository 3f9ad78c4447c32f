"""The `tfnas` console command: `tfnas <binary> [flags]` runs binaries/<binary>.py (what `pip install .` installs).

    tfnas                                   # lists the binaries
    tfnas search_single_darts --help        # that binary's flags
    tfnas search_evolution --benchmark=nasbench201 --max_evaluations=100 --output_dir=runs/evolution

Dashes are accepted for underscores (`tfnas search-single-darts`).
"""
from __future__ import annotations

import importlib
import os
import sys


def binaries() -> list[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    return sorted(f[:-3] for f in os.listdir(here)
                  if f.endswith(".py") and not f.startswith("_"))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    names = binaries()
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print("usage: tfnas <binary> [flags]   (tfnas <binary> --help lists its flags)\nbinaries:\n  "
              + "\n  ".join(names))
        raise SystemExit(0 if len(argv) >= 2 else 2)
    name = argv[1].replace("-", "_")
    if name not in names:
        print(f"error: unknown binary {argv[1]!r}; one of: {', '.join(names)}", file=sys.stderr)
        raise SystemExit(2)
    import tfnas  # noqa: F401  (Keras 2 before TensorFlow)
    from absl import app

    sys.argv = [f"tfnas {name}", *argv[2:]]  # absl's --help lists the key flags of the module named sys.argv[0]
    module = importlib.import_module(f"binaries.{name}")
    app.run(module.main, argv=sys.argv)


if __name__ == "__main__":
    main()
