"""A self-contained HTML report (images embedded) of any search or training run, or several side by side.

    python -m binaries.report --run_dir=runs/sd --output=runs/sd/report.html
    python -m binaries.report --run_dir=runs/evolution --run_dir=runs/pnas_nb201 --output=compare.html

The found cell or network drawn as a graph, search and training curves, the architecture
distribution over epochs (differentiable searches), the best-so-far curve and, where latency was
measured or limited, accuracy against latency with the Pareto front and the limit.
"""
from __future__ import annotations

import tfnas  # noqa: F401  (Keras 2 switch, before TensorFlow)

import flags as flags_help

from absl import app

from flags import report as report_flags
from tfnas.errors import exit_on_user_error

flags_help.show_in_help()


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from tfnas.logs import quiet_tensorflow_logs

    quiet_tensorflow_logs()
    from tfnas.report.page import write_report

    with exit_on_user_error():
        path = write_report(report_flags.RUN_DIR.value, report_flags.OUTPUT.value)
    print(path)


if __name__ == "__main__":
    app.run(main)
