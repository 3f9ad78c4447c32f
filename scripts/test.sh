#!/usr/bin/env bash
# The whole test suite (what CI runs): sets up .venv if needed, then pytest over tests/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider --durations=15 "$@"
