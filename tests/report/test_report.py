"""binaries.report's page: every section has content, every embedded image decodes, the right charts appear."""
from __future__ import annotations

import base64
import io
import os
import re

import pytest
from PIL import Image

import tfnas  # noqa: F401

from tfnas.report.page import ReportError, write_report


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tfds_dir):
    """A latency-limited tabular search and a tiny Single-DARTS search, as report inputs."""
    from tfnas.benchmarks import nasbench201 as nb
    from tfnas.methods.differentiable_search import SearchConfig, run_differentiable_search
    from tfnas.search.evolution import RegularizedEvolution
    from tfnas.search.runner import run_to_output_dir

    root = tmp_path_factory.mktemp("runs")
    evaluator = nb.load_evaluator(None, "cifar10", "pixel3", 10.0)
    run_to_output_dir(RegularizedEvolution(evaluator.space(), evaluator.metric, seed=0),
                      evaluator, 40, str(root / "evolution"), "regularized_evolution", nb.arch_to_string,
                      nb.arch_to_genotype, {"method": "regularized_evolution"},
                      {"config": {"max_latency_ms": 10.0, "device": "pixel3"}})
    run_differentiable_search(SearchConfig(output_dir=str(root / "sd"), space="nasbench201", data_dir=tfds_dir,
                                           layers=1, init_channels=4, image_size=16, epochs=2, steps_per_epoch=2,
                                           validation_steps=1, batch_size=16, verbose=0))
    return str(root / "evolution"), str(root / "sd")


def images_and_sections(path: str) -> tuple[list[tuple[str, Image.Image]], list[str]]:
    page = open(path).read()
    images = [(alt, Image.open(io.BytesIO(base64.b64decode(data))))
              for alt, data in re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([^"]+)">', page)]
    for _, image in images:
        image.load()  # raises if the PNG does not decode
    return images, re.findall(r"<section>(.*?)</section>", page, re.S)


def test_report_of_a_latency_limited_search_has_the_pareto_front_and_the_cell(runs, tmp_path):
    evolution, _ = runs
    images, sections = images_and_sections(write_report([evolution], str(tmp_path / "report.html")))
    alts = [alt for alt, _ in images]
    assert {"found architecture", "best so far", "pareto"} <= set(alts)
    assert all(image.size[0] > 100 and image.size[1] > 100 for _, image in images)
    assert sections and all("<table>" in s and "<img" in s for s in sections)


def test_report_of_a_differentiable_search_and_the_comparison(runs, tmp_path):
    evolution, sd = runs
    images, sections = images_and_sections(write_report([sd, evolution], str(tmp_path / "report.html")))
    alts = [alt for alt, _ in images]
    assert "curves" in alts and "architecture distribution cell" in alts and alts.count("found architecture") == 2
    assert "Comparison" in sections[0] and len(sections) == 3


def test_a_directory_that_is_no_run_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match="holds no search_summary.json"):
        write_report([str(tmp_path)], str(tmp_path / "r.html"))
    with pytest.raises(ReportError, match="not a directory"):
        write_report([str(tmp_path / "missing")], str(tmp_path / "r.html"))
