"""Keep binaries' output readable: the job's own lines, none of its libraries' chatter.

Three sources of noise, each silenced where it starts (``--verbosity=1``, absl's flag, keeps all):

* Python log records of TensorFlow, tfds, the TFLite converter (``dataset_info.py:711] Load dataset
  info``, ``functional_saver.py:440] Sharding callback duration``): a filter on absl's handler drops
  INFO and WARNING records that do not come from tfnas' own code (tfnas/, binaries/, flags/,
  benchmarks/); errors always pass.
* The 'tensorflow' Python logger: its level is raised (settable before TensorFlow is imported, so
  a tabular search does not pay for importing it just to quieten it).
* Lines the C++ runtimes print to file descriptor 2 at start-up (oneDNN's note, the CUDA stubs of
  a CPU-only machine, absl's "All log messages before absl::InitializeLog()", XNNPACK's delegate
  note, LiteRT's INFO notes on its accelerator registry): stderr is passed through a filter thread that drops exactly those known lines and copies
  everything else through as it arrives.
"""
from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading

OWN_CODE = tuple(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), d) + os.sep
                 for d in ("tfnas", "binaries", "flags", "benchmarks"))

RUNTIME_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    r"|INFO: \[\w+\.cc:\d+\] "  # LiteRT's INFO notes (accelerator registry, plugins, environment)
    r"|WARNING: \[(npu_registry|compiler_plugin)\.cc:\d+\] "  # no NPU / vendor compiler plugin on this machine
    r"|\S+ Could not load shared library \S+libLiteRtCompilerPlugin"
    r"|[IWE]\d{4} [\d:. ]+\d+ (port\.cc|cudart_stub\.cc|cuda_platform\.cc|cuda_dnn\.cc|cuda_fft\.cc|cuda_blas\.cc"
    r"|cpu_feature_guard\.cc|gpu_device\.cc|cuda_executor\.cc|cuda_diagnostics\.cc):\d+\])")
"""Start-up lines of the TensorFlow / LiteRT C++ runtimes that say nothing about the job."""


class OwnRecordsOnly(logging.Filter):
    """Passes errors and tfnas' own records; drops other libraries' INFO and WARNING records."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or os.path.abspath(record.pathname).startswith(OWN_CODE)


_installed = False
SENTINEL = b"\x00tfnas-stderr-drained\x00"


def _filter_fd2() -> None:
    """Route file descriptor 2 through a thread that drops RUNTIME_NOISE lines."""
    original = os.dup(2)
    drained = threading.Event()
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb", buffering=0) as source:
            pending = b""
            while True:
                chunk = source.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                done = SENTINEL in lines
                if done:
                    lines = lines[:lines.index(SENTINEL)]
                out = b"".join(line + b"\n" for line in lines
                               if not RUNTIME_NOISE.match(line.decode("utf-8", "replace")))
                if out:
                    os.write(original, out)
                if done:
                    drained.set()
                    return
            if pending and not RUNTIME_NOISE.match(pending.decode("utf-8", "replace")):
                os.write(original, pending)
            drained.set()

    thread = threading.Thread(target=pump, name="tfnas-stderr-filter", daemon=True)
    thread.start()

    def drain() -> None:
        """Everything written so far reaches the terminal; what the runtimes print while they are torn
        down after this (LiteRT's DestroyAccelerator notes) stays in the pipe."""
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.write(2, SENTINEL + b"\n")
        drained.wait(timeout=5)

    atexit.register(drain)


def verbosity_given(argv: list[str]) -> bool:
    """Whether the command line sets absl's ``--verbosity`` (``-v``); read from argv, as the library reads
    no flags."""
    return any(a.split("=")[0] in ("--verbosity", "-verbosity", "-v", "--v") for a in argv)


def quiet_tensorflow_logs(level: int = logging.ERROR) -> None:
    """A binary's output without its libraries' chatter, unless ``--verbosity`` was given (absl's flag)."""
    global _installed
    logging.getLogger("tensorflow").setLevel(level)
    if _installed:
        return
    _installed = True
    if verbosity_given(sys.argv[1:]):
        return
    from absl import logging as absl_logging

    absl_logging.get_absl_handler().addFilter(OwnRecordsOnly())
    if os.environ.get("TFNAS_RAW_STDERR") != "1":
        _filter_fd2()
