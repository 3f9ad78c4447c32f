"""docs/TUTORIAL.md's commands, every one run in its tiny form and chained as the tutorial chains them.

The commands come from the tutorial itself: every ``python -m binaries.<name> ...`` line of its
```bash blocks, chapter by chapter (a ``## `` heading), in a scratch working directory per chapter,
so the relative paths the chapter writes (``runs/...``) are the paths its later commands read. Each
command runs with the tiny overrides below appended (or replacing the tutorial's value of the same
flag): one epoch of two steps, tiny networks, small budgets. Paths, binaries and every other flag stay
the tutorial's, so a renamed binary or flag, a flag the binary does not take, or a path a chapter
reads before writing fails here.

The binaries run in this process (their absl ``main`` after parsing the command's flags), not as
subprocesses: TensorFlow starts once for the whole file. Between commands the absl flags are put
back as they were before any binary was imported (defaults and required-flag validators that a
binary sets at import apply to that binary only).

This file is also the check that every space a search writes trains with ``binaries.train`` and
exports with ``binaries.export`` (BATS' binary network with ``--format=lce``): the tutorial's chains
cover every space with a network, and the last test fails if a chapter stops covering one.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field

import pytest
from absl import flags as absl_flags

import tfnas  # noqa: F401  (Keras 2 before TensorFlow)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIAL = os.path.join(ROOT, "docs", "TUTORIAL.md")
FLAGS = absl_flags.FLAGS

# --- the tiny forms: flag -> value (True / False: --flag / --noflag), appended or replacing the tutorial's ---
# (Grappler's one-off rewrites off: a quarter of a tiny run's time; the tutorial's own commands keep them)
SCHEDULE = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 16, "verbose": 0, "graph_optimization": "light"}
SEARCH_LAYERS = {"nasbench201": 1, "darts": 3}  # the DARTS space needs a reduction cell at 1/3 and 2/3
PNAS_SURROGATE = {"pnas_surrogate": "mlp", "pnas_ensemble_size": 1, "pnas_surrogate_units": 8,
                  "pnas_surrogate_epochs": 2, "pnas_surrogate_refit_epochs": 2}
PNAS_CANDIDATES = {"pnas_blocks": 1, "pnas_beam_size": 1, "pnas_initial_cells": 2, "pnas_cells": 1,
                   "pnas_filters": 4, "pnas_epochs_per_candidate": 1, "image_size": 16, **SCHEDULE}
TABULAR = {"max_evaluations": 12, "verbose": 0}
TINY = {
    "search_single_darts": {**SCHEDULE, "init_channels": 4, "image_size": 16, "validation_steps": 1},
    # first order: second order's unrolled step took 2.5x the CPU time here (tests/methods/test_differentiable.py
    # checks it)
    "search_darts": {**SCHEDULE, "init_channels": 4, "image_size": 16, "validation_steps": 1, "order": 1},
    "search_bats": {**SCHEDULE, "layers": 3, "init_channels": 8, "groups": 2, "shuffle_groups": 2, "image_size": 16,
                    "kd_weight": 0.0, "checkpoint_cells": False, "validation_steps": 1},
    "search_manas": {**SCHEDULE, "steps_per_epoch": 1, "layers": 3, "init_channels": 2, "image_size": 8,
                     "checkpoint_cells": False, "candidate_ops": "none,skip_connect,max_pool_3x3,sep_conv_3x3"},
    "search_hurricane": {**SCHEDULE, "top_k": 1, "stages": 1, "population_size": 1, "generations": 1,
                         "num_parents": 1, "num_mutations": 0, "num_crossovers": 0, "recalibration_batches": 1,
                         "eval_examples": 16, "measure_best": False, "max_latency_ms": 1e6},
    "search_vitas": {**SCHEDULE, "weight_sharing": "left", "warmup_epochs": 0, "evolution_population_size": 2,
                     "evolution_generations": 1, "eval_examples": 16, "identity_samples": 200},
    "train": {**SCHEDULE, "drop_path": 0.0, "cutout": 0},
    "export": {"num_calibration_images": 16},
    "profile_latency": {"num_runs": 2, "warmup_runs": 1},
    "report": {},
}
TABULAR_TINY = {  # --benchmark=nasbench201
    "search_random": TABULAR,
    "search_evolution": {**TABULAR, "evolution_population_size": 4, "evolution_tournament_size": 2},
    "search_pnas": {**TABULAR, **PNAS_SURROGATE, "smbo_initial_size": 8, "smbo_batch_size": 2},
    "search_manas": {"max_rounds": 20, "verbose": 0},
}
REAL_TINY = {"search_random": PNAS_CANDIDATES, "search_evolution": PNAS_CANDIDATES,
             "search_pnas": {**PNAS_CANDIDATES, **PNAS_SURROGATE, "max_evaluations": 4}}
BUILD_TABLE_TINY = {"table_ops": "mbconv_k3_e1", "num_runs": 1, "warmup_runs": 0, "calibration_archs": 0,
                    "flush_mb": 0}
# Module constants with no flag, set for the whole chapter: the BATS search's discretisation gap on two
# batches of 64 held-out images (1,024 in batches of 256 otherwise: three eager passes over them)
TINY_CONSTANTS = {"tfnas.methods.bats": {"DISCRETIZATION_IMAGES": 128, "DISCRETIZATION_BATCH": 64}}
TRAIN_TINY = {  # by the genotype's space (what the searches' tiny networks were checked with)
    "nasbench201": {"layers": 1, "init_channels": 4, "image_size": 16},
    "darts": {"layers": 3, "init_channels": 4, "image_size": 16, "auxiliary": False},
    "bats": {"layers": 3, "init_channels": 32, "image_size": 16, "auxiliary": False},
    "pnas": {"layers": 1, "init_channels": 4, "image_size": 16},
    "manas": {"init_channels": 4, "image_size": 16, "auxiliary": False},  # the per-cell genotype fixes the depth
    "hurricane": {},  # the genotype fixes every layer and its 32x32 input
    "vit": {"optimizer": "adam", "learning_rate": 1e-3, "weight_decay": 0.0},  # the genotype fixes its 28x28 input
}


@dataclass
class Command:
    """One ``python -m binaries.<binary> ...`` line of the tutorial (continuation lines joined)."""

    binary: str
    args: list[str]
    text: str

    def flag(self, name: str, default=None):
        for arg in self.args:
            if arg == f"--{name}":
                return True
            if arg == f"--no{name}":
                return False
            if arg.startswith(f"--{name}="):
                return arg.split("=", 1)[1]
        return default


@dataclass
class Chapter:
    title: str
    commands: list[Command] = field(default_factory=list)


def chapters(path: str = TUTORIAL) -> list[Chapter]:
    """The tutorial's chapters with their binaries' command lines, in order."""
    text = open(path).read()
    found: list[Chapter] = []
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        chapter = Chapter(part.splitlines()[0].strip())
        for block in re.findall(r"^```bash\n(.*?)^```", part, flags=re.S | re.M):
            for line in block.replace("\\\n", " ").splitlines():
                if line.startswith("python -m binaries."):
                    words = shlex.split(line, comments=True)
                    chapter.commands.append(Command(words[2].removeprefix("binaries."), words[3:], line))
        if chapter.commands:
            found.append(chapter)
    return found


# --- the binaries in this process, each with only its own flags, as in a process of its own ---

def _ours(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in ("flags", "binaries")


class FreshBinaries:
    """Imports a binary afresh for every command, with none of the flags other binaries define.

    The binaries' flag modules define some names differently (``--learning_rate`` of a search and of
    ``binaries.train``) and set defaults at import, so two binaries never share one process. Before
    each command the flags the repository's modules defined are deleted from absl's registry and the
    modules forgotten; ``restore`` puts back what was there before (other test files' binaries).
    """

    def __init__(self):
        self._flags = {name: FLAGS[name] for name in FLAGS}
        self._by_module = {module: list(defined) for module, defined in FLAGS.flags_by_module_dict().items()}
        self._modules = {name: module for name, module in sys.modules.items() if _ours(name)}
        self._parsed = FLAGS.is_parsed()

    @staticmethod
    def _forget() -> None:
        for name in list(FLAGS):
            if _ours(FLAGS.find_module_defining_flag(name)):
                delattr(FLAGS, name)
        for name in [name for name in sys.modules if _ours(name)]:
            del sys.modules[name]

    def load(self, binary: str):
        """``binaries.<binary>`` imported afresh: absl's registry then holds its flags and no other binary's."""
        self._forget()
        return importlib.import_module(f"binaries.{binary}")

    @staticmethod
    def parse(binary: str, args: list[str]) -> list[str]:
        """The loaded binary's flags parsed from ``args`` as absl's app.run parses them (unknown flags fail)."""
        FLAGS.unparse_flags()
        return FLAGS([f"binaries/{binary}.py", *args])

    def restore(self) -> None:
        self._forget()
        for name, flag in self._flags.items():
            if name not in FLAGS:  # absl's own flags were never deleted
                FLAGS[name] = flag
        for module, defined in self._by_module.items():
            registered = FLAGS.flags_by_module_dict().get(module, [])
            for flag in defined:
                if flag not in registered:
                    FLAGS.register_flag_by_module(module, flag)
        sys.modules.update(self._modules)
        if self._parsed:
            FLAGS.mark_as_parsed()


@pytest.fixture(scope="module")
def binaries_here():
    here = FreshBinaries()
    yield here
    here.restore()


def _render(name: str, value) -> str:
    if value is True:
        return f"--{name}"
    if value is False:
        return f"--no{name}"
    return f"--{name}={value}"


def tiny_overrides(command: Command, genotype_space: str | None) -> dict:
    binary = command.binary
    if command.flag("build_table"):
        return BUILD_TABLE_TINY
    if command.flag("benchmark") is not None and binary in TABULAR_TINY:
        return TABULAR_TINY[binary]
    if binary in REAL_TINY:
        return REAL_TINY[binary]
    tiny = dict(TINY[binary])
    if binary in ("search_single_darts", "search_darts"):
        tiny["layers"] = SEARCH_LAYERS[command.flag("space", "nasbench201")]
    if binary == "train":
        tiny.update(TRAIN_TINY[genotype_space])
    return tiny


def tiny_form(command: Command, tiny: dict) -> list[str]:
    """The command's arguments with ``tiny``'s flags appended in place of the tutorial's values."""
    replaced = {f"--{name}" for name in tiny} | {f"--no{name}" for name in tiny}
    kept = [arg for arg in command.args if arg.split("=", 1)[0] not in replaced]
    return kept + [_render(name, value) for name, value in tiny.items()]


# --- the tests ---

TUTORIAL_CHAPTERS = chapters()
EXPORTED_SPACES: dict[str, set[str]] = {}  # chapter -> spaces its chains searched, trained and exported


def test_every_tutorial_command_and_its_tiny_form_parse(binaries_here):
    """The binaries exist and take every flag the tutorial and the tiny forms give them (a second; no TensorFlow)."""
    titles = [c.title for c in TUTORIAL_CHAPTERS]
    assert len(titles) >= 8, titles
    for chapter in TUTORIAL_CHAPTERS:
        for command in chapter.commands:
            assert os.path.exists(os.path.join(ROOT, "binaries", f"{command.binary}.py")), command.text
            binaries_here.load(command.binary)
            try:
                binaries_here.parse(command.binary, command.args)
                for space in TRAIN_TINY if command.binary == "train" else [None]:
                    tiny = tiny_form(command, tiny_overrides(command, space))
                    binaries_here.parse(command.binary, tiny)
            except absl_flags.Error as e:
                pytest.fail(f"{chapter.title}: {command.text}\n{e}")


def _genotype_space(path: str) -> str:
    with open(path) as f:
        return json.load(f)["space"]


def _check(command: Command, out: str, written: dict) -> None:
    """What the tutorial says each command leaves behind, and that the chain's paths meet."""
    if command.binary.startswith("search_"):
        genotype = os.path.join(command.flag("output_dir"), "genotype.json")
        written["genotypes"][genotype] = _genotype_space(genotype)
    elif command.binary == "train":
        model = os.path.join(command.flag("output_dir"), "model")
        assert os.path.exists(os.path.join(model, "config.json")), command.text
        written["models"][model] = written["genotypes"][command.flag("genotype")]
    elif command.binary == "export":
        facts = json.loads(out[out.index("{"):])
        assert facts["format"] == command.flag("format", "tflite")
        assert facts["size_bytes"] == os.path.getsize(facts["path"]) > 0
        if command.flag("output"):
            assert os.path.samefile(facts["path"], command.flag("output"))
        model = command.flag("model").rstrip("/")
        assert model in written["models"], f"{command.text}: --model is not written by an earlier train"
        written["exported"].add(written["models"][model])
    elif command.binary == "profile_latency" and not command.flag("build_table"):
        assert json.loads(out[out.index("{"):])["median_ms"] > 0
    elif command.binary == "report":
        with open(command.flag("output", "report.html")) as f:
            assert f.read().startswith("<!doctype html>")


@pytest.mark.parametrize("chapter", TUTORIAL_CHAPTERS, ids=[c.title.split(":")[0] for c in TUTORIAL_CHAPTERS])
def test_the_chapter_runs_in_its_tiny_form(chapter, binaries_here, tmp_path, tfds_dir, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the chapter's relative paths (runs/...) land here
    for module_name, constants in TINY_CONSTANTS.items():
        for name, value in constants.items():
            monkeypatch.setattr(importlib.import_module(module_name), name, value)
    written = {"genotypes": {}, "models": {}, "exported": set()}
    for command in chapter.commands:
        space = None
        if command.binary == "train":
            space = written["genotypes"].get(command.flag("genotype"))
            assert space, f"{command.text}: --genotype is not written by an earlier search of this chapter"
        module = binaries_here.load(command.binary)
        tiny = tiny_overrides(command, space)
        if "data_dir" in FLAGS:
            tiny = {**tiny, "data_dir": tfds_dir}
        try:
            module.main(binaries_here.parse(command.binary, tiny_form(command, tiny)))
        except SystemExit as e:
            pytest.fail(f"{command.text}\nexited with {e.code}:\n{capsys.readouterr().err[-3000:]}")
        _check(command, capsys.readouterr().out, written)
    EXPORTED_SPACES[chapter.title] = written["exported"]


def test_the_tutorial_trains_and_exports_every_space():
    """Every space with a network is searched, trained and exported by one of the chains run above."""
    from tfnas.spaces.networks import spaces_with_network

    missing = [c.title for c in TUTORIAL_CHAPTERS if c.title not in EXPORTED_SPACES]
    assert not missing, f"run the whole file: chapters {missing} did not run"
    exported = set().union(*EXPORTED_SPACES.values())
    every = set(spaces_with_network(False)) | set(spaces_with_network(True))
    assert exported >= every, f"no tutorial chain searches, trains and exports {sorted(every - exported)}"
