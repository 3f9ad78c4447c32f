"""kill -9 at random points of every search binary and of train, then rerun: the same result as a run never killed.

Each binary runs as a user runs it (a subprocess, tiny settings). One run is killed right after it
wrote its run_config.json (before any checkpoint) and rerun to the end: that rerun is a complete run
from an empty state. Another is killed right after its k-th state write (an epoch checkpoint's
history, a searcher state; k drawn at random below the run's total) and rerun: it must end with the
same genotype.json and search_summary.json (train_summary.json for train), times excluded.

The kill is a real SIGKILL the process sends itself at an exact write (``TFNAS_KILL_AT``,
tfnas/files.py), so the points are reproducible; every chosen point is printed.

The binaries are split over the test_kill_resume*.py files (``GROUPS``) so that pytest-xdist's
``--dist loadfile`` can run them on both workers; together they cover ``SPECS``.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Grappler off (--graph_optimization=light): its one-off rewrites were a quarter of these tiny runs' time,
# and what is checked here (resume to the same result) does not depend on them
TINY_DATA = ["--dataset=mnist_embedded", "--batch_size=16", "--steps_per_epoch=2", "--verbose=0",
             "--graph_optimization=light"]
TABULAR = ["--benchmark=nasbench201"]

# binary -> (arguments, state file whose k-th write is a kill point, number of writes in a complete run)
SPECS = {
    "search_random": (["binaries.search_random", *TABULAR, "--max_evaluations=30"], "searcher_state.json", 30),
    "search_evolution": (["binaries.search_evolution", *TABULAR, "--max_evaluations=30"], "searcher_state.json", 30),
    "search_pnas_smbo": (["binaries.search_pnas", *TABULAR, "--max_evaluations=24", "--smbo_initial_size=8",
                          "--smbo_batch_size=8", "--pnas_ensemble_size=1", "--pnas_surrogate_epochs=3"],
                         "searcher_state.json", 24),
    "search_manas": (["binaries.search_manas", *TABULAR, "--max_rounds=30", "--agent=least_squares",
                      "--loss_noise=0.01"], "searcher_state.json", 30),
    "search_single_darts": (["binaries.search_single_darts", "--space=nasbench201", "--layers=1", "--init_channels=4",
                             "--image_size=16", "--epochs=3", "--validation_steps=1", *TINY_DATA], "history.json", 3),
    "search_darts": (["binaries.search_darts", "--space=nasbench201", "--layers=1", "--init_channels=4",
                      "--image_size=16", "--epochs=3", "--validation_steps=1", *TINY_DATA], "history.json", 3),
    # a 0.98 train portion leaves 80 held-out images: the discretisation gap every run ends with measures
    # the supernet on at most 1,024 of them, eagerly, three times (a quarter of a run at 0.5). The
    # single-level step: what BATS adds to a resume (the binary supernet's state, its schedules) is the
    # same, the bi-level resume is search_darts' case (and test_bats' in-process one), and each run
    # traces one forward-backward pass instead of two (a fifth less time per run)
    "search_bats": (["binaries.search_bats", "--method=single_darts", "--layers=3", "--init_channels=8", "--groups=2",
                     "--shuffle_groups=2", "--image_size=16", "--kd_weight=0", "--epochs=3", "--validation_steps=1",
                     "--train_portion=0.98", "--checkpoint_cells=false", *TINY_DATA], "history.json", 3),
    "search_pnas": (["binaries.search_pnas", "--pnas_blocks=2", "--pnas_beam_size=2", "--pnas_initial_cells=3",
                     "--pnas_cells=1", "--pnas_filters=4", "--pnas_epochs_per_candidate=1", "--pnas_ensemble_size=1",
                     "--pnas_surrogate_epochs=2", "--image_size=16", *TINY_DATA], "searcher_state.json", 5),
    "search_hurricane": (["binaries.search_hurricane", "--device_table={table}", "--max_latency_ms=0.5",
                          "--resolution=32", "--width_multiplier=0.25", "--top_k=2", "--population_size=3",
                          "--generations=2", "--num_parents=2", "--num_mutations=1", "--num_crossovers=1",
                          "--recalibration_batches=1", "--eval_examples=32", "--measure_best=false", "--epochs=1",
                          *TINY_DATA], "search_state.json", 12),
    "train": (["binaries.train", "--genotype={genotype}", "--layers=1", "--init_channels=4", "--image_size=16",
               "--epochs=3", *TINY_DATA], "history.json", 3),
}
# test file -> the binaries it kills (about the same CPU time per file; BATS alone is as much as the rest of one)
GROUPS = {
    "test_kill_resume.py": ("search_random", "search_evolution", "search_pnas_smbo", "search_manas", "train",
                            "search_single_darts", "search_darts"),
    "test_kill_resume_bats.py": ("search_bats",),
    "test_kill_resume_pnas_hurricane.py": ("search_pnas", "search_hurricane"),
}
SUMMARY = {"train": "train_summary.json"}
TIME_KEYS = ("time", "seconds", "wall", "_s", "tensorboard", "model_dir", "output_dir", "path")


def strip_times(value):
    """A result without what may differ between runs: timings and the paths of the directories."""
    if isinstance(value, dict):
        return {k: strip_times(v) for k, v in value.items()
                if not any(k == t or k.endswith(t) or t in k for t in TIME_KEYS)}
    if isinstance(value, list):
        return [strip_times(v) for v in value]
    return value


def result(output_dir: str, name: str) -> dict:
    out = {"summary": strip_times(json.load(open(os.path.join(output_dir, SUMMARY.get(name, "search_summary.json")))))}
    genotype = os.path.join(output_dir, "genotype.json")
    if os.path.exists(genotype):
        out["genotype"] = json.load(open(genotype))
    return out


def make_inputs(root, tfds_dir: str) -> dict:
    """A tiny HURRICANE device table, a NAS-Bench-201 genotype to train, the embedded data prepared once."""
    from conftest import strided_choice_table
    from tfnas.data import load_image_data
    from tfnas.spaces import hurricane
    from tfnas.spaces.base import save_genotype
    from tfnas.spaces.nasbench201 import NasBench201Genotype

    load_image_data("mnist_embedded", tfds_dir)
    config = hurricane.HurricaneConfig(32, 0.25, input_channels=1, num_classes=10)
    strided_choice_table(config, {"mbconv_k3_e1": 0.01, "shufflenet_k3": 0.03}, str(root / "table.json"))
    save_genotype(NasBench201Genotype(("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none",
                                       "nor_conv_3x3")), str(root / "genotype.json"))
    return {"table": str(root / "table.json"), "genotype": str(root / "genotype.json"), "tfds_dir": tfds_dir}


def run(name: str, output_dir: str, inputs: dict, kill_at: str | None = None) -> subprocess.CompletedProcess:
    args = [a.format(**inputs) for a in SPECS[name][0]]
    env = dict(os.environ, TFDS_DATA_DIR=inputs["tfds_dir"],
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TFNAS_KILL_AT", None)
    if kill_at:
        env["TFNAS_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", *args, f"--output_dir={output_dir}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)


def check_killed_runs_resume(name: str, tmp_path, inputs: dict) -> None:
    """Kill ``name`` at run_config.json:1 and at its k-th state write, rerun each: both end alike."""
    _, state_file, writes = SPECS[name]
    k = random.Random(name).randint(1, writes - 1)
    print(f"{name}: kill points run_config.json:1 and {state_file}:{k} of {writes}")
    early, late = str(tmp_path / "early"), str(tmp_path / "late")
    for output_dir, point in ((early, "run_config.json:1"), (late, f"{state_file}:{k}")):
        killed = run(name, output_dir, inputs, kill_at=point)
        assert killed.returncode == -signal.SIGKILL, f"{name} was not killed at {point}:\n{killed.stderr[-2000:]}"
        rerun = run(name, output_dir, inputs)
        assert rerun.returncode == 0, f"{name} rerun after a kill at {point} failed:\n{rerun.stderr[-3000:]}"
        assert "Traceback" not in rerun.stderr
    assert result(late, name) == result(early, name), f"{name}: the run killed at {state_file}:{k} differs"
    if os.path.isdir(os.path.join(early, "tensorboard", "trials")):
        # One HParams trial per evaluation, also where the kill fell between saving a result and logging its trial.
        evaluations = len(json.load(open(os.path.join(early, "search_summary.json")))["history"])
        assert len(trials(early)) == evaluations and trials(late) == trials(early), f"{name}: trials differ"


def trials(output_dir: str) -> dict:
    """Each HParams trial's directory -> (trial id, hparams); metrics may hold timings."""
    from conftest import read_trials

    read = read_trials(os.path.join(output_dir, "tensorboard", "trials"))["trials"]
    return {directory: (t["id"], t["hparams"]) for directory, t in read.items()}
