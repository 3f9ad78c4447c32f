#!/usr/bin/env bash
# Build the tfnas wheel, install it into a fresh venv outside the checkout, and run the `tfnas` command
# from there: one binary's --help and a tiny tabular search (what `pip install .` gives a user).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON="${PYTHON:-python3}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "check_wheel: building the wheel"
"$PYTHON" -m pip wheel --quiet --no-deps -w "$work/dist" "$REPO"
rm -rf "$REPO/build" "$REPO"/*.egg-info
echo "check_wheel: installing $(basename "$work"/dist/*.whl) and the pinned stack into a fresh venv in $work"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --progress-bar off "$work"/dist/*.whl
cd "$work"
"$work/venv/bin/tfnas" search_evolution --help > help.txt 2>&1 || true
grep -q -- "--max_evaluations" help.txt || { cat help.txt; echo "check_wheel: --help lists no flags" >&2; exit 1; }
"$work/venv/bin/tfnas" search_evolution --benchmark=nasbench201 \
  --benchmark_file="${TFNAS_BENCHDATA:-$REPO/../shared/benchdata}/nasbench201.csv" --max_evaluations=20 \
  --output_dir="$work/run"
test -s "$work/run/genotype.json"
echo "check_wheel: the installed tfnas command ran a search from $work"
