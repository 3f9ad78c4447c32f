"""Keep binaries' output readable: TensorFlow's and Keras' Python-side INFO chatter off."""
from __future__ import annotations

import logging


def quiet_tensorflow_logs(level: int = logging.ERROR) -> None:
    """Raise the level of the 'tensorflow' Python logger (checkpoint sharding notes, save warnings)."""
    import tensorflow as tf

    tf.get_logger().setLevel(level)
    logging.getLogger("tensorflow").setLevel(level)
