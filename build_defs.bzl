"""Macros for tfnas' BUILD: the same Python settings on every target."""

_PY = dict(
    imports = ["."],
    srcs_version = "PY3",
)

def tfnas_library(name, srcs = [], deps = []):
    native.py_library(name = name, srcs = srcs, deps = deps, **_PY)

def tfnas_binary(src, deps):
    """A py_binary named after binaries/<name>.py."""
    native.py_binary(
        name = src[len("binaries/"):-len(".py")],
        srcs = [src],
        main = src,
        deps = deps,
        python_version = "PY3",
        **_PY
    )

def tfnas_test(src, deps):
    """A py_test per pytest file, run through tests/bazel_pytest.py; named tests/a/test_b.py -> a_test_b."""
    native.py_test(
        name = src[len("tests/"):-len(".py")].replace("/", "_"),
        size = "large",
        srcs = ["tests/bazel_pytest.py", src],
        args = ["$(location %s)" % src],
        main = "tests/bazel_pytest.py",
        deps = deps,
        python_version = "PY3",
        **_PY
    )
