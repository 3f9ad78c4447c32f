"""absl flag definitions shared by the binaries: common.py for every binary, one module per job."""
from __future__ import annotations

import sys


def show_in_help() -> None:
    """Make ``--help`` list every tfnas flag the binary imported (absl lists only the main module's own).

    Each binary calls this at import, after importing its flag modules: the flags of every
    ``flags.*`` module become key flags of the main module, so ``--help`` shows them without
    ``--helpfull``'s pages of absl and TensorFlow flags.
    """
    from absl import flags as absl_flags

    values = absl_flags.FLAGS
    main = sys.argv[0]
    for module, module_flags in values.flags_by_module_dict().items():
        if module.startswith("flags.") or module == "flags":
            for flag in module_flags:
                values.register_key_flag_for_module(main, flag)
