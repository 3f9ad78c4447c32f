"""The package's layering, read from the imports themselves (ast), so removed arrows stay removed.

docs/ARCHITECTURE.md: spaces know no searcher; the generic path-sampling core knows no single
space; latency tables and hardware-aware space generation know no single space; the run
directory, files and TensorBoard writer know nothing above them; data modules do not import each
other in a circle.
"""
from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def imports_of(path: str) -> set[str]:
    """Every module ``path`` imports (at module level or inside functions), as dotted names."""
    tree = ast.parse(open(os.path.join(ROOT, path)).read(), path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules_in(folder: str) -> list[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(os.path.join(ROOT, folder)) if f.endswith(".py"))


FORBIDDEN = [
    # (files, forbidden module prefix, why); the bottom layer's modules may use each other
    (modules_in("tfnas/spaces"), "tfnas.search", "a space knows no searcher"),
    (modules_in("tfnas/spaces"), "tfnas.supernets", "a space knows no supernet"),
    (modules_in("tfnas/spaces"), "tfnas.methods", "a space knows no method"),
    (["tfnas/supernets/path_sampling.py"], "tfnas.spaces", "the path-sampling core knows no space"),
    (["tfnas/hardware/latency_table.py", "tfnas/hardware/space_generation.py"], "tfnas.spaces.hurricane",
     "latency tables and space generation take a space-neutral profile"),
    (["tfnas/run_dir.py", "tfnas/files.py", "tfnas/errors.py", "tfnas/summary_writer.py", "tfnas/graph_optimization.py"],
     "tfnas.",
     "the bottom layer imports nothing above it"),
    (["tfnas/data/streaming.py"], "tfnas.data.pipeline", "pipeline imports streaming, never the reverse"),
    (modules_in("tfnas/configs"), "tensorflow", "settings are checked before TensorFlow is imported"),
    *[(modules_in("tfnas/configs"), f"tfnas.{layer}", "settings know no model code")
      for layer in ("methods", "supernets", "training", "hardware", "search", "ops", "data")],
]


@pytest.mark.parametrize("files, prefix, why", FORBIDDEN, ids=[why for _, _, why in FORBIDDEN])
def test_forbidden_import_arrows_are_absent(files, prefix, why):
    bottom = ("tfnas.errors", "tfnas.files")
    offending = [f"{path} imports {name}" for path in files for name in imports_of(path)
                 if name.startswith(prefix) and not name.startswith(bottom)]
    assert not offending, f"{why}: " + "; ".join(offending)


def test_the_library_never_reads_flags():
    offending = [f"{path} imports {name}" for folder, _, files in os.walk(os.path.join(ROOT, "tfnas"))
                 for f in files if f.endswith(".py")
                 for path in [os.path.relpath(os.path.join(folder, f), ROOT)]
                 for name in imports_of(path) if name == "flags" or name.startswith("flags.")
                 or name.startswith("absl.flags")]
    assert not offending, offending
