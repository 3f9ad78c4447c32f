"""Training of child networks, run directories with resume, and TensorBoard callbacks."""
