#!/usr/bin/env bash
# The whole test suite (what CI runs): sets up .venv if needed, then pytest over tests/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Two workers (pytest-xdist), a test file per worker at a time: many tests wait on subprocesses or
# on Python, so two files in flight keep both cores busy. TFNAS_TEST_WORKERS=0 runs in one process.
# tests/conftest.py gives each worker's TensorFlow its share of the cores, and puts the slowest files
# first (--no-loadscope-reorder keeps that order; xdist's own puts files with the most tests first).
workers="${TFNAS_TEST_WORKERS:-2}"
if [ "$workers" = "0" ]; then
  exec .venv/bin/python -m pytest tests -q -p no:cacheprovider --durations=25 "$@"
fi
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider -n "$workers" --dist loadfile --no-loadscope-reorder --durations=25 "$@"
