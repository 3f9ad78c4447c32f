"""absl binaries of tfnas; run each as `python -m binaries.<name>` from the repository root."""
