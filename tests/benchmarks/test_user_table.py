"""A user's own tabular benchmark and latencies, searched by the discrete binaries (--benchmark=table)."""
from __future__ import annotations

import csv
import itertools
import json
import os

import numpy as np
import pytest
from absl import flags

import tfnas  # noqa: F401
from binaries import search_evolution, search_pnas, search_random
from tfnas.benchmarks.nasbench201 import BenchmarkError
from tfnas.benchmarks.user_table import UserTable, UserTableEvaluator

FLAGS = flags.FLAGS


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    """4 x 4 x 3 architectures minus a few (a table need not hold the whole product); accuracy peaks at
    depth 8, width 64, kernel 5; latency grows with depth and width."""
    path = tmp_path_factory.mktemp("table") / "runs.csv"
    rows = []
    for depth, width, kernel in itertools.product((2, 4, 8, 16), (16, 32, 64, 128), (3, 5, 7)):
        if (depth, width) == (16, 128):
            continue
        accuracy = 90 - abs(np.log2(depth) - 3) - abs(np.log2(width) - 6) - abs(kernel - 5) / 2
        rows.append({"depth": depth, "width": width, "kernel": kernel, "accuracy": round(accuracy, 3),
                     "params_k": depth * width * kernel, "latency_ms": depth * width / 100})
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def run(binary, output_dir, *args):
    FLAGS.unparse_flags()
    FLAGS(["binary", "--benchmark=table", f"--output_dir={output_dir}", "--verbose=0", *args])
    binary.search()
    with open(os.path.join(output_dir, "search_summary.json")) as f:
        return json.load(f)


TABLE = ["--table_choices=depth,width,kernel", "--table_objective=accuracy"]


@pytest.mark.parametrize("binary, extra", [(search_random, []), (search_evolution, ["--evolution_population_size=8",
                                                                                   "--evolution_tournament_size=3"]),
                                           (search_pnas, ["--smbo_initial_size=8", "--smbo_batch_size=4",
                                                          "--pnas_ensemble_size=1", "--pnas_surrogate_epochs=10"])])
def test_every_discrete_searcher_searches_a_users_table(tmp_path, table_file, binary, extra):
    summary = run(binary, str(tmp_path / "out"), f"--benchmark_file={table_file}", *TABLE, "--max_evaluations=40",
                  *extra)
    table = UserTable.load(table_file, ["depth", "width", "kernel"], "accuracy")
    assert len(summary["history"]) == 40 and summary["table_best_feasible"] == 90.0
    for entry in summary["history"]:
        arch = dict(kv.split("=") for kv in entry["arch"].split(","))
        assert entry["metrics"]["accuracy"] == table.metrics["accuracy"][table.row_of(arch)]
    genotype = json.load(open(tmp_path / "out" / "genotype.json"))
    assert genotype["space"] == "table" and set(genotype["arch"]) == {"depth", "width", "kernel"}


def test_a_latency_percentile_limits_the_search_to_the_fastest_rows(tmp_path, table_file):
    summary = run(search_evolution, str(tmp_path / "out"), f"--benchmark_file={table_file}", *TABLE,
                  "--max_latency_percentile=25", "--max_evaluations=30", "--evolution_population_size=8",
                  "--evolution_tournament_size=3")
    limit = summary["max_latency_ms"]
    latencies = UserTable.load(table_file, ["depth", "width", "kernel"], "accuracy").metrics["latency_ms"]
    assert limit == pytest.approx(np.percentile(latencies, 25))
    assert all(e["metrics"]["latency_ms"] <= limit for e in summary["history"])


def test_own_latencies_join_a_nasbench201_search(tmp_path):
    from tfnas.benchmarks import nasbench201 as nb

    table = nb.NasBench201Table.load()
    latency_file = tmp_path / "mine.csv"
    archs = table.arch_strings[:2000]
    with open(latency_file, "w") as f:
        f.write("arch,latency_ms\n" + "".join(f"{a},{i % 100 / 10}\n" for i, a in enumerate(archs)))
    FLAGS.unparse_flags()
    FLAGS(["binary", "--benchmark=nasbench201", f"--latency_file={latency_file}", "--max_latency_ms=2",
           f"--output_dir={tmp_path / 'nb'}", "--verbose=0", "--max_evaluations=20"])
    search_random.search()
    summary = json.load(open(tmp_path / "nb" / "search_summary.json"))
    assert all(e["metrics"]["latency_ms_user"] <= 2 for e in summary["history"])
    assert {e["arch"] for e in summary["history"]} <= set(archs)


def test_a_table_without_a_schema_names_the_flags_and_the_schema_file(tmp_path, table_file):
    with pytest.raises(BenchmarkError, match="--table_choices.*--table_objective.*schema.json"):
        UserTable.load(table_file)
    schema = table_file + ".schema.json"
    with open(schema, "w") as f:
        json.dump({"choices": ["depth", "width", "kernel"], "objective": "latency_ms", "mode": "min"}, f)
    try:
        evaluator = UserTableEvaluator(UserTable.load(table_file))
        arch, value = evaluator.best_feasible()
        assert value == pytest.approx(0.32) and arch["depth"] == "2" and arch["width"] == "16"
    finally:
        os.remove(schema)
    with pytest.raises(BenchmarkError, match="no column"):
        UserTable.load(table_file, ["depth", "size"], "accuracy")
