"""MANAS as a searcher and as binaries.search_manas on the NAS-Bench-201 table: outputs, TensorBoard,
exact resume after a kill between rounds, and one clear line for each bad input."""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

import tfnas  # noqa: F401
from binaries import search_manas
from flags import manas as manas_flags
from tfnas.benchmarks import nasbench201 as nb
from tfnas.methods.manas import run_manas_search
from tfnas.search.api import run_search
from tfnas.search.manas import ManasSearcher
from tfnas.spaces.base import load_genotype

FLAGS = flags.FLAGS
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def evaluator():
    return nb.load_evaluator(None, "cifar10")


def parse(output_dir, *args):
    FLAGS.unparse_flags()
    FLAGS(["search_manas", "--benchmark=nasbench201", f"--output_dir={output_dir}", "--verbose=0", *args])


def run(output_dir, *args):
    parse(output_dir, *args)
    return search_manas.search()


def read(output_dir, name):
    with open(os.path.join(output_dir, name)) as f:
        return json.load(f)


def events(logdir):
    """{tag: [steps]} and {image tag: [PNG bytes]}, read with tensorboard's own loader."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    tags, images = {}, {}
    for path in glob.glob(os.path.join(logdir, "events.*")):
        for event in EventFileLoader(path).Load():
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
                if value.metadata.plugin_data.plugin_name == "images":  # the loader's form: [width, height, png]
                    images.setdefault(value.tag, []).append(value.tensor.string_val[2])
    return tags, images


def test_searcher_learns_from_the_scaled_table_loss(evaluator):
    searcher = ManasSearcher(evaluator.space(), evaluator.metric, agent="least_squares", seed=0)
    run_search(searcher, evaluator, 40)
    assert len(searcher.history) == searcher.agents.rounds == 40
    for h in searcher.history:
        assert h["metrics"]["loss"] == pytest.approx(1 - h["metrics"]["cifar10_test_acc"] / 100)
    arch = searcher.ask(1)[0]
    with pytest.raises(RuntimeError, match="tell the result"):
        searcher.ask(1)
    other = dict(arch, edge_1_0="none" if arch["edge_1_0"] != "none" else "skip_connect")
    with pytest.raises(ValueError, match="only from the architecture they sampled"):
        searcher.tell(other, evaluator.evaluate(other))
    assert searcher.recommend() == nb.nasbench201_space().decode(searcher.agents.recommend())


def test_loss_noise_is_seeded_and_reaches_only_the_agents(evaluator):
    histories = []
    for _ in range(2):
        searcher = ManasSearcher(evaluator.space(), evaluator.metric, agent="exp3", seed=5, eta=0.5, loss_noise=0.02)
        run_search(searcher, evaluator, 30)
        histories.append(searcher.history)
    assert histories[0] == histories[1]
    gaps = [h["metrics"]["loss"] - (1 - h["metrics"]["cifar10_test_acc"] / 100) for h in histories[0]]
    assert 0.005 < np.std(gaps) < 0.04  # noisy loss, table accuracy kept as it is


def test_constrained_spaces_are_refused(evaluator):
    constrained = nb.load_evaluator(None, "cifar10", "pixel3", 8.0)
    with pytest.raises(ValueError, match="cannot keep to the space's constraints"):
        ManasSearcher(constrained.space(), constrained.metric)


@pytest.mark.parametrize("agent", ["exp3", "least_squares", "uniform"])
def test_tiny_tabular_run_writes_genotype_summary_and_tensorboard(tmp_path, evaluator, agent):
    out = str(tmp_path / agent)
    summary = run(out, f"--agent={agent}", "--max_rounds=12", "--heatmap_every=5", "--seed=2")
    assert summary == read(out, "search_summary.json")
    assert summary["method"] == "manas" and summary["config"]["agent"] == agent
    assert [len(summary["history"]), summary["num_evaluated"]] == [12, 12]
    for h in summary["history"]:  # table metrics per round, plus the loss the agents saw
        assert h["metrics"]["cifar10_test_acc"] == evaluator.table.row(nb.arch_from_string(h["arch"]))["cifar10_test_acc"]
        assert h["metrics"]["loss"] == pytest.approx(1 - h["metrics"]["cifar10_test_acc"] / 100)
    genotype = load_genotype(os.path.join(out, "genotype.json"), expected_space="nasbench201")
    assert genotype.to_arch_string() == summary["recommended"]
    assert summary["recommended_metrics"]["arch"] == summary["recommended"]
    probabilities = [list(c["probabilities"].values()) for c in summary["agents"]["choices"].values()]
    assert np.allclose(np.sum(probabilities, axis=1), 1, atol=1e-5) and len(probabilities) == 6
    tags, images = events(os.path.join(out, "tensorboard", "manas"))
    assert tags["manas/loss"] == list(range(1, 13)) and tags["manas/mean_entropy"] == list(range(1, 13))
    assert tags["manas/cifar10_test_acc"] == list(range(1, 13))
    assert tags["manas/probabilities"] == [1, 5, 10, 12]
    assert all(png.startswith(b"\x89PNG") for png in images["manas/probabilities"])
    if agent == "least_squares":
        assert tags["manas/ls_contributions"] == [1, 5, 10, 12] and "ls_contributions" in summary["agents"]["choices"]["edge_1_0"]
    else:
        assert "manas/ls_contributions" not in tags
    if agent == "uniform":
        assert np.allclose(probabilities, 0.2)


class Killed(Exception):
    pass


@pytest.mark.parametrize("agent", ["exp3", "least_squares"])
def test_a_search_killed_between_rounds_resumes_to_the_uninterrupted_result(tmp_path, agent):
    args = [f"--agent={agent}", "--max_rounds=30", "--seed=3", "--loss_noise=0.01", "--heatmap_every=100"]
    whole = str(tmp_path / "whole")
    run(whole, *args)
    part = str(tmp_path / "part")
    parse(part, *args)

    def kill_after_round(n):
        if n == 11:
            raise Killed

    with pytest.raises(Killed):
        run_manas_search(manas_flags.config(), after_round=kill_after_round)
    assert len(read(part, "searcher_state.json")["history"]) == 11
    run(part, *args)  # the same command again
    for name in ("searcher_state.json", "genotype.json"):
        assert read(part, name) == read(whole, name)
    resumed, uninterrupted = read(part, "search_summary.json"), read(whole, "search_summary.json")
    assert resumed["history"] == uninterrupted["history"] and resumed["recommended"] == uninterrupted["recommended"]
    assert resumed["agents"] == uninterrupted["agents"]


def test_fresh_starts_over_and_changed_settings_are_refused(tmp_path):
    out = str(tmp_path / "run")
    first = run(out, "--agent=exp3", "--max_rounds=8")
    with pytest.raises(ValueError, match="horizon: saved 8, now 9.*--fresh"):
        run(out, "--agent=exp3", "--max_rounds=9")  # the default eta depends on the round budget
    again = run(out, "--agent=exp3", "--max_rounds=8", "--fresh")
    assert again["history"] == first["history"]
    assert len(glob.glob(os.path.join(out, "previous-*", "search_summary.json"))) == 1
    # with an explicit eta (or another agent) more rounds continue the same search
    out2 = str(tmp_path / "ls")
    run(out2, "--agent=least_squares", "--max_rounds=8")
    assert len(run(out2, "--agent=least_squares", "--max_rounds=12")["history"]) == 12


def _binary(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "binaries.search_manas", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_bad_input_is_one_error_line_before_any_work(tmp_path):
    cases = {
        "agent": (["--benchmark=nasbench201", "--agent=thompson"], "flag --agent=thompson: value should be one of"),
        "eta": (["--benchmark=nasbench201", "--eta=0"], "--eta must be a positive finite learning rate, got 0"),
        "gamma": (["--benchmark=nasbench201", "--gamma=1"], "--gamma must lie in [0, 1)"),
        "file": (["--benchmark=nasbench201", f"--benchmark_file={tmp_path}/none.csv"], "--benchmark_file=<path"),
        "manas_on_nb201": (["--benchmark=nasbench201", "--share_cells"],
                           "--share_cells configure the supernet search of DARTS cells (MANAS genotypes); the "
                           "--benchmark=nasbench201 table has one 6-edge cell"),
        "depth": (["--layers=2"], "--layers must be at least 3"),
        "ops": (["--candidate_ops=none,conv_7x7"], "--candidate_ops: candidate ops must be distinct DARTS ops"),
    }
    procs = {name: _binary(*args, f"--output_dir={tmp_path}/{name}") for name, (args, _) in cases.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, f"{name}: {err[-2000:]}"
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and cases[name][1] in errors[0], f"{name}: {err[-2000:]}"
        assert "Traceback" not in err
        assert not os.path.exists(os.path.join(tmp_path, name)), f"{name} wrote its output dir"


def test_training_a_manas_genotype_at_another_depth_is_one_error_line(tmp_path):
    from tfnas.spaces.manas import ManasGenotype

    cell = (("sep_conv_3x3", 0), ("skip_connect", 1)) * 4
    path = tmp_path / "genotype.json"
    path.write_text(json.dumps(ManasGenotype(tuple(cell for _ in range(8))).to_json()))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "binaries.train", f"--genotype={path}", "--layers=20",
                           f"--output_dir={tmp_path}/train"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr[-2000:]
    assert "fixes the depth at 8 cells" in errors[0] and "--layers=8" in errors[0]
    assert not os.path.exists(tmp_path / "train")


def test_the_agents_and_their_tensorboard_views_need_no_tensorflow(tmp_path):
    code = (
        "import sys, numpy as np\n"
        "from tfnas.benchmarks import nasbench201 as nb\n"
        "from tfnas.search.manas import ManasSearcher\n"
        "from tfnas.search.manas_summaries import ManasTensorBoard\n"
        "from tfnas.methods.manas import ManasConfig\n"
        "ev = nb.load_evaluator(None)\n"
        "s = ManasSearcher(ev.space(), ev.metric, agent='least_squares')\n"
        f"board = ManasTensorBoard({str(tmp_path)!r}, ev.space(), ev.metric, heatmap_every=2)\n"
        "for n in range(1, 4):\n"
        "    arch = s.ask(1)[0]; m = ev.evaluate(arch); s.tell(arch, m); board.on_round(n, s.agents, arch, m)\n"
        "board.close()\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert events(str(tmp_path))[0]["manas/probabilities"] == [1, 2]
