"""The same tests at two commits: is the suite slower than it was? (issue 8's "the full test suite no slower")

A suite that grew (new methods bring new tests) cannot be compared with an older one by its wall
time alone. This runs, on one machine one after the other, the tests the older commit had that
still exist by node id at the newer one: at the older commit with its own code, then at the newer
commit with its code, each with the same pytest command. Each side runs in a git worktree of this
repository beside this checkout, with this checkout's .venv (a superset of the older pins).
Renamed tests are counted and left out on both sides.

    python benchmarks/suite_same_tests.py --before=5056801 [--after=HEAD] [--workers=0]

``--workers=0`` runs one pytest process (the older suite's own command); ``--workers=2`` uses
pytest-xdist (``--dist loadfile``) on both sides. The last line is one JSON object: both walls,
both CPU times (user + system of pytest and its children), the test counts and the CPU model.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDS_RUNNER = "import sys, pytest; ids = open(sys.argv[1]).read().split('\\n'); " \
             "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', *sys.argv[2:], *[i for i in ids if i]]))"


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return re.search(r"Model name:\s*(.+)", out).group(1).strip()
    except (OSError, AttributeError):
        return platform.processor() or "unknown"


def worktree(rev: str, side: str) -> str:
    """A worktree beside this checkout (so that ../shared resolves as it does here)."""
    path = os.path.join(os.path.dirname(ROOT), f"suite-{side}-{rev.replace('/', '_')}")
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-f", path, rev], check=True,
                   capture_output=True)
    os.symlink(os.path.join(ROOT, ".venv"), os.path.join(path, ".venv"))
    return path


def collect(tree: str) -> list[str]:
    """Node ids of the tree's tests, in collection order."""
    out = subprocess.run([sys.executable, "-m", "pytest", "tests", "--collect-only", "-q", "-p", "no:cacheprovider"],
                         cwd=tree, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "::" in line]


def run(tree: str, ids_file: str, workers: int) -> dict:
    """The listed tests in ``tree``: wall and CPU seconds, pytest's summary line."""
    args = ["-n", str(workers), "--dist", "loadfile"] if workers else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    done = subprocess.run([sys.executable, "-c", IDS_RUNNER, ids_file, *args], cwd=tree, capture_output=True,
                          text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    wall = time.time() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    return {"wall_s": round(wall, 1), "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime
                                                       - before.ru_stime, 1),
            "returncode": done.returncode, "summary": summary[-1].strip("= ") if summary else done.stdout[-500:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the older commit")
    parser.add_argument("--after", default="HEAD", help="the newer commit (default HEAD)")
    parser.add_argument("--workers", type=int, default=0, help="0: one pytest process; n: pytest-xdist workers")
    a = parser.parse_args()
    if not os.path.isdir(os.path.join(ROOT, ".venv")):
        sys.exit("suite_same_tests: no .venv in the checkout; run `bash scripts/setup.sh` first")
    with tempfile.TemporaryDirectory(prefix="tfnas-suites-") as scratch:  # the id list
        trees = {"before": worktree(a.before, "before"), "after": worktree(a.after, "after")}
        try:
            ids = {side: collect(tree) for side, tree in trees.items()}
            present = set(ids["after"])
            common = [i for i in ids["before"] if i in present]
            ids_file = os.path.join(scratch, "ids.txt")
            with open(ids_file, "w") as f:
                f.write("\n".join(common) + "\n")
            result = {"before": a.before, "after": a.after, "workers": a.workers,
                      "tests_before": len(ids["before"]), "tests_after": len(ids["after"]), "common": len(common),
                      "cpu_model": cpu_model(), "load_at_start": round(os.getloadavg()[0], 2)}
            for side in ("before", "after"):
                result[side + "_run"] = run(trees[side], ids_file, a.workers)
                print(side, json.dumps(result[side + "_run"]), flush=True)
            result["wall_ratio"] = round(result["after_run"]["wall_s"] / result["before_run"]["wall_s"], 3)
            result["cpu_ratio"] = round(result["after_run"]["cpu_s"] / max(result["before_run"]["cpu_s"], 1e-9), 3)
            result["load_at_end"] = round(os.getloadavg()[0], 2)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree], capture_output=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
