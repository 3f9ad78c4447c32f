"""tfnas: neural architecture search for TensorFlow / Keras 2.

Importing tfnas selects the Keras 2 API (tf-keras) for TensorFlow: Larq and the TF
Model Optimization toolkit only work with Keras 2, and every supernet, child network and
exporter here is written against it. The switch must happen before TensorFlow is first
imported, so it is the first thing this package does.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if os.environ["TF_USE_LEGACY_KERAS"] not in ("1", "true", "True"):
    raise ImportError(
        "tfnas needs the Keras 2 API but TF_USE_LEGACY_KERAS="
        f"{os.environ['TF_USE_LEGACY_KERAS']!r}. Unset it or set TF_USE_LEGACY_KERAS=1."
    )

if "tensorflow" in sys.modules:
    _tf = sys.modules["tensorflow"]
    _keras_name = getattr(getattr(_tf, "keras", None), "__name__", "")
    if _keras_name and "tf_keras" not in _keras_name:
        raise ImportError(
            "TensorFlow was imported before tfnas with Keras 3 as tf.keras. Import tfnas "
            "first, or set TF_USE_LEGACY_KERAS=1 in the environment before importing TensorFlow."
        )

__version__ = "0.1.0"

_API = ("search_architecture", "train", "export", "profile", "SearchResult", "TrainResult")


def __getattr__(name: str):
    """``tfnas.search_architecture`` / ``train`` / ``export`` / ``profile`` (tfnas/api.py), imported on
    first use so that ``import tfnas`` stays light (no TensorFlow until a job needs it). (``tfnas.search``
    is the package of searchers, so the search job has the longer name.)"""
    if name in _API:
        from tfnas import api

        return getattr(api, name)
    raise AttributeError(f"module 'tfnas' has no attribute {name!r}")
