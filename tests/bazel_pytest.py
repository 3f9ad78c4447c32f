"""Entry point of the Bazel py_test targets: run pytest on the test file given as argument.

Bazel runs a py_test's main file directly; our tests are pytest modules (fixtures in
tests/conftest.py), so each target runs them through pytest from the repository root.
"""
import os
import sys

import pytest

if __name__ == "__main__":
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(root)
    sys.path.insert(0, root)
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
