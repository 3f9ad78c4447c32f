"""Knowledge-distillation flags, shared by binaries.search_bats (search) and binaries.train (training).

The defaults here are training's (no distillation); binaries.search_bats switches them to BATS'
(kd_weight 1 from the real-valued supernet).
"""
from __future__ import annotations

from absl import flags

KD_WEIGHT = flags.DEFINE_float(
    "kd_weight", 0.0, "Weight of knowledge distillation from a real-valued teacher: loss = CE + kd_weight * tau^2 * "
    "KL(softmax(teacher / tau) || softmax(student / tau)). 0 = no distillation (search_bats default: 1).")
KD_TEMPERATURE = flags.DEFINE_float("kd_temperature", 1.0, "Distillation temperature tau.")
TEACHER = flags.DEFINE_string(
    "teacher", None, "Distillation teacher: a trained model directory written by binaries.train (its 'model' "
    "folder), or for search_bats 'supernet' (its default) = a real-valued search over the same space "
    "(--binarize=none) run first in <output_dir>/teacher, whose supernet then teaches.")
