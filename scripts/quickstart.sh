#!/usr/bin/env bash
# The main job from scratch: set up .venv, then Single-DARTS search on the NAS-Bench-201 cell
# space over the embedded MNIST subset -> train -> TFLite export -> LiteRT latency -> summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m binaries.quickstart "$@"
