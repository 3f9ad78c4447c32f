"""Keep binaries' output readable: TensorFlow's and Keras' Python-side INFO chatter off.

TensorFlow's Python logger is the standard library's "tensorflow" logger (``tf.get_logger()``
returns it), so its level can be set before TensorFlow is imported: a binary that never needs
TensorFlow (a tabular search) does not pay for importing it just to quieten it.
"""
from __future__ import annotations

import logging


def quiet_tensorflow_logs(level: int = logging.ERROR) -> None:
    """Raise the level of the 'tensorflow' Python logger (checkpoint sharding notes, save warnings)."""
    logging.getLogger("tensorflow").setLevel(level)
