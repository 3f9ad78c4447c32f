"""absl flag definitions shared by the binaries: common.py for every binary, one module per job."""
