#!/usr/bin/env bash
# Create .venv with the pinned stack (requirements.txt) unless it is already there and current.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing the pinned stack into .venv (TensorFlow 2.21 CPU, tf-keras, Larq, LCE, TF-MOT, tfds, LiteRT;"
  echo "       about 2 GB, a few minutes on a first run; pip's progress follows)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --progress-bar off -r requirements.txt
  # tf-keras depends on the `tensorflow` wheel, which is built with CUDA and prints a failed cuInit at every
  # start on a CPU-only machine; keep only tensorflow-cpu's files (the same package, without CUDA).
  if .venv/bin/python -m pip show --quiet tensorflow >/dev/null 2>&1; then
    echo "setup: keeping the CPU build of TensorFlow only (tensorflow-cpu)"
    .venv/bin/python -m pip uninstall --quiet -y tensorflow
    .venv/bin/python -m pip install --quiet --no-deps --force-reinstall \
      "$(grep -E '^tensorflow-cpu==' requirements.txt | cut -d' ' -f1)"
  fi
  .venv/bin/python -c "import tfnas, tensorflow as tf, tf_keras, larq; print('setup: ready:', 'TensorFlow', tf.__version__)" \
    2>/dev/null
  echo "$want" > "$stamp"
fi
