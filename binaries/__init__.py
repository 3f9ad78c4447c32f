"""absl binaries, run as ``python -m binaries.<name>`` from the repository root."""
