"""The NAS-Bench-201 table as a space + evaluator: look-ups, latency limits and clear errors."""
import itertools
import os

import numpy as np
import pytest

import tfnas  # noqa: F401
from tfnas.benchmarks import nasbench201 as nb
from tfnas.search.api import SearchSpaceError
from tfnas.spaces.base import GenotypeError

OPTIMUM = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def table():
    return nb.NasBench201Table.load()


def test_table_answers_the_published_optimum(table):
    evaluator = nb.NasBench201Evaluator(table, "cifar10")
    arch = nb.arch_from_string(OPTIMUM)
    assert evaluator.evaluate(arch)["cifar10_test_acc"] == pytest.approx(94.3733)
    assert table.row(arch)["index"] == 6111
    assert evaluator.best_feasible()[1] == pytest.approx(94.3733)
    for objective, best in (("cifar100", 73.5133), ("imagenet16_120", 47.3111)):
        assert nb.NasBench201Evaluator(table, objective).best_feasible()[1] == pytest.approx(best)


def test_space_enumeration_matches_table_order(table):
    space = nb.nasbench201_space()
    assert space.size == 15_625
    archs = table.all_archs()
    # spot-check that the dense code order of values() agrees with per-arch look-ups
    rng = np.random.default_rng(0)
    values = table.values("cifar100_test_acc")
    for i in rng.choice(len(archs), 50, replace=False):
        assert table.row(archs[i])["cifar100_test_acc"] == values[i]
        assert table.row(archs[i])["arch"] == nb.arch_to_string(archs[i])
        assert nb.arch_from_string(nb.arch_to_string(archs[i])) == archs[i]
    first = [space.decode(ix) for ix in itertools.islice(itertools.product(range(5), repeat=6), 7)]
    assert first == archs[:7]


def test_missing_table_names_the_flag(tmp_path):
    with pytest.raises(nb.BenchmarkError, match="--benchmark_file"):
        nb.NasBench201Table.load(str(tmp_path / "nope.csv"))


def test_table_with_wrong_columns_is_refused(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(nb.BenchmarkError, match="columns"):
        nb.NasBench201Table.load(str(path))


def test_unknown_objective_and_device_are_clear_errors(table):
    with pytest.raises(nb.BenchmarkError, match="unknown --objective 'cifar11'.*cifar10"):
        nb.NasBench201Evaluator(table, "cifar11")
    with pytest.raises(nb.BenchmarkError, match="unknown --device 'iphone'.*pixel3"):
        nb.NasBench201Evaluator(table, "cifar10", device="iphone")
    with pytest.raises(nb.BenchmarkError, match="--device"):
        nb.NasBench201Evaluator(table, "cifar10", max_latency_ms=5.0)


def test_infeasible_latency_limit_is_a_clear_error(table):
    fastest = table.values("latency_ms_pixel3").min()
    with pytest.raises(nb.BenchmarkError, match="no NAS-Bench-201 cell meets --max_latency_ms.*Raise the limit"):
        nb.NasBench201Evaluator(table, "cifar10", "pixel3", fastest * 0.99)
    nb.NasBench201Evaluator(table, "cifar10", "pixel3", fastest)  # exactly the fastest cell is feasible


def test_malformed_arch_strings_and_unknown_ops_are_clear_errors():
    with pytest.raises(GenotypeError, match="unknown op 'conv_9x9'"):
        nb.arch_from_string(OPTIMUM.replace("nor_conv_1x1", "conv_9x9"))
    with pytest.raises(GenotypeError, match="malformed"):
        nb.arch_from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|")
    with pytest.raises(GenotypeError, match="expected '<op>~1'"):
        nb.arch_from_string(OPTIMUM.replace("nor_conv_3x3~1|+|skip", "nor_conv_3x3~0|+|skip"))
    with pytest.raises(SearchSpaceError, match="missing"):
        nb.arch_to_genotype({"edge_1_0": "none"})


def test_latency_limit_becomes_a_space_constraint(table):
    limit = float(np.quantile(table.values("latency_ms_fpga"), 0.2))
    evaluator = nb.NasBench201Evaluator(table, "cifar10", "fpga", limit)
    space = evaluator.space()
    rng = np.random.default_rng(1)
    for _ in range(200):
        arch = space.sample(rng)
        assert evaluator.evaluate(arch)["latency_ms_fpga"] <= limit
    feasible = evaluator.feasible_mask()
    assert feasible.sum() == (table.values("latency_ms_fpga") <= limit).sum()
    best_arch, best = evaluator.best_feasible()
    assert best == table.values("cifar10_test_acc")[feasible].max()
    assert evaluator.evaluate(best_arch)["latency_ms_fpga"] <= limit
    assert best < 94.3733  # the limit binds: the unconstrained optimum is slower


def test_default_file_is_the_shared_benchdata():
    assert os.path.exists(nb.DEFAULT_FILE), nb.DEFAULT_FILE
    assert nb.DEFAULT_FILE.endswith(os.path.join("shared", "benchdata", "nasbench201.csv"))
