"""The discrete search binaries in tabular mode: outputs, resume, settings checks and bad flags."""
import glob
import json
import os

import pytest
from absl import flags

import tfnas  # noqa: F401
from binaries import _discrete, search_evolution, search_pnas, search_random
from tfnas.benchmarks import nasbench201 as nb
from tfnas.search.runner import OutputDirError
from tfnas.spaces.base import load_genotype

FLAGS = flags.FLAGS
FAST_PNAS = ["--pnas_surrogate_units=16", "--pnas_surrogate_epochs=30", "--pnas_ensemble_size=3"]


def run(binary, output_dir, *args):
    FLAGS.unparse_flags()
    FLAGS(["binary", "--benchmark=nasbench201", f"--output_dir={output_dir}", "--verbose=0", *args])
    binary.search()
    with open(os.path.join(output_dir, "search_summary.json")) as f:
        return json.load(f)


def scalars(output_dir):
    import tensorflow as tf
    tags = {}
    for path in glob.glob(os.path.join(output_dir, "tensorboard", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    return tags


def test_random_writes_summary_genotype_and_tensorboard(tmp_path):
    out = str(tmp_path / "random")
    summary = run(search_random, out, "--max_evaluations=30", "--seed=3", "--objective=cifar100")
    assert summary["method"] == "random" and summary["seed"] == 3 and len(summary["history"]) == 30
    values = [h["metrics"]["cifar100_test_acc"] for h in summary["history"]]
    assert summary["best"]["metrics"]["cifar100_test_acc"] == max(values)
    table = nb.NasBench201Table.load()
    for h in summary["history"]:  # arch strings the table knows, with the table's metrics
        assert table.row(nb.arch_from_string(h["arch"]))["cifar100_test_acc"] == h["metrics"]["cifar100_test_acc"]
    genotype = load_genotype(os.path.join(out, "genotype.json"), expected_space="nasbench201")
    assert genotype.to_arch_string() == summary["best"]["arch"]
    tags = scalars(out)
    assert tags["search/best_so_far"] == list(range(1, 31))
    assert len(tags["search/cifar100_test_acc"]) == 30


def test_rerun_resumes_to_the_uninterrupted_result(tmp_path):
    whole = run(search_evolution, str(tmp_path / "whole"), "--max_evaluations=40", "--seed=1")
    part = str(tmp_path / "part")
    assert len(run(search_evolution, part, "--max_evaluations=15", "--seed=1")["history"]) == 15
    resumed = run(search_evolution, part, "--max_evaluations=40", "--seed=1")
    assert resumed["history"] == whole["history"] and resumed["best"] == whole["best"]


def test_other_settings_in_the_same_output_dir_are_refused_unless_fresh(tmp_path):
    out = str(tmp_path / "evo")
    run(search_evolution, out, "--max_evaluations=12")
    with pytest.raises(OutputDirError, match="objective: saved 'cifar10', now 'cifar100'.*--fresh"):
        run(search_evolution, out, "--max_evaluations=12", "--objective=cifar100")
    summary = run(search_evolution, out, "--max_evaluations=12", "--objective=cifar100", "--fresh")
    assert "cifar100_test_acc" == summary["objective"]
    aside = glob.glob(os.path.join(out, "previous-*", "search_summary.json"))
    assert len(aside) == 1 and json.load(open(aside[0]))["objective"] == "cifar10_test_acc"


def test_pnas_tabular_with_a_latency_limit(tmp_path):
    out = str(tmp_path / "pnas")
    summary = run(search_pnas, out, "--max_evaluations=30", "--smbo_initial_size=10", "--device=eyeriss",
                  "--max_latency_ms=5", *FAST_PNAS)
    assert summary["method"] == "pnas_smbo"
    assert all(h["metrics"]["latency_ms_eyeriss"] <= 5 for h in summary["history"])
    assert [e["evaluated"] for e in summary["surrogate_spearman"]] == [20, 30]
    assert summary["table_best_feasible"] < 94.37
    assert scalars(out)["surrogate/spearman_mlp"] == [20, 30]


def test_pnas_tabular_rerun_resumes_to_the_uninterrupted_result(tmp_path):
    args = ["--seed=4", "--smbo_initial_size=10", "--smbo_batch_size=5", *FAST_PNAS]
    whole = run(search_pnas, str(tmp_path / "whole"), "--max_evaluations=36", *args)
    part = str(tmp_path / "part")
    run(search_pnas, part, "--max_evaluations=22", *args)  # stopped inside a predicted batch
    resumed = run(search_pnas, part, "--max_evaluations=36", *args)  # a new predictor replays the refits
    assert resumed["history"] == whole["history"] and resumed["surrogate_spearman"] == whole["surrogate_spearman"]
    assert whole["config"]["surrogate"] == ["mlp"] and whole["config"]["surrogate_target_transform"] == "rank"
    assert whole["config"]["surrogate_refit"] == "warm"


def test_pnas_predictor_defaults_depend_on_the_mode():
    FLAGS.unparse_flags()
    FLAGS(["binary"])
    from flags import discrete
    assert discrete.pnas_surrogate_kinds(tabular=False) == ("lstm", "mlp")  # the paper's two ensembles
    assert discrete.pnas_target_transform(tabular=False) == "minmax"  # the paper's regression of accuracy
    assert discrete.pnas_surrogate_kinds(tabular=True) == ("mlp",)  # measured on NAS-Bench-201
    assert discrete.pnas_target_transform(tabular=True) == "rank"
    FLAGS(["binary", "--pnas_surrogate=lstm", "--pnas_target_transform=rank"])
    assert discrete.pnas_surrogate_kinds(tabular=False) == ("lstm",)
    assert discrete.pnas_target_transform(tabular=False) == "rank"


@pytest.mark.parametrize("args, error, message", [
    (["--device=eyeriss", "--max_latency_ms=1.0"], "BenchmarkError", "no NAS-Bench-201 cell meets"),
    (["--device=toaster"], "BenchmarkError", "unknown --device 'toaster'"),
    (["--max_latency_ms=5"], "BenchmarkError", "needs --device"),
    (["--benchmark_file=/nonexistent/nb201.csv"], "BenchmarkError", "--benchmark_file"),
    (["--evolution_population_size=3", "--evolution_tournament_size=5"], "FlagError", "exceeds --evolution_population_size"),
    (["--num_workers=4", "--cpus_per_worker=2"], "FlagError", "--num_workers and --cpus_per_worker only apply to "
                                                              "--executor=ray"),
    (["--executor=ray", "--cpus_per_worker=0"], "RayExecutorError", "needs some resources"),
])
def test_bad_flags_fail_clearly_before_searching(tmp_path, args, error, message):
    out = str(tmp_path / "bad")
    with pytest.raises(Exception, match=message) as info:
        run(search_evolution, out, "--max_evaluations=5", *args)
    assert type(info.value).__name__ == error
    assert not os.path.exists(os.path.join(out, "searcher_state.json"))


def test_a_restart_growth_of_at_most_one_is_refused(tmp_path):
    with pytest.raises(_discrete.FlagError, match="--pnas_surrogate_restart_growth=1.0 must be > 1"):
        run(search_pnas, str(tmp_path / "pnas"), "--pnas_surrogate_restart_growth=1", *FAST_PNAS)


def test_latency_flags_need_tabular_mode():
    FLAGS.unparse_flags()
    FLAGS(["binary", "--device=pixel3", "--output_dir=/tmp/unused"])
    with pytest.raises(_discrete.FlagError, match="--benchmark=nasbench201"):
        _discrete.setup("random")


def test_bad_input_from_the_command_line_is_one_error_line(tmp_path):
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, "-m", "binaries.search_pnas", "--benchmark=nasbench201", "--device=eyeriss",
         "--max_latency_ms=1", f"--output_dir={tmp_path}/out"],
        cwd=root, env=dict(os.environ, PYTHONPATH=root), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "no NAS-Bench-201 cell meets --max_latency_ms=1.0" in errors[0]
    assert "Traceback" not in proc.stderr
