"""absl binaries: `python -m binaries.<name> --helpfull` documents each one's flags."""
