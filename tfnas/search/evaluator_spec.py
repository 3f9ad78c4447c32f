"""An evaluator described by configuration, so another process can build its own copy.

Parallel executors (``tfnas.search.ray_executor``) run evaluations in worker processes. A live
evaluator holds Keras models, tf.data pipelines, a loaded table: none of that pickles reliably,
and a copy shipped by pickle would carry the driver's TensorFlow state into the worker. So a
worker gets an ``EvaluatorSpec`` instead: the import path of a factory function and its keyword
arguments as plain JSON, and builds the evaluator itself (once per worker, again after a
restart). Anything importable on the workers can be a factory, e.g.
``EvaluatorSpec("tfnas.benchmarks.nasbench201:load_evaluator", {"path": None, "objective": "cifar10"})``.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
from typing import Any, Mapping

from tfnas.errors import ConfigError
from tfnas.search.api import Evaluator


class EvaluatorSpecError(ConfigError):
    """A spec that cannot describe an evaluator (a factory path without ``module:function``, arguments not JSON)."""


@dataclasses.dataclass(frozen=True)
class EvaluatorSpec:
    """``factory`` ("package.module:function") called with ``kwargs`` (JSON values) builds the evaluator."""

    factory: str
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        module, _, function = self.factory.partition(":")
        if not module or not function:
            raise EvaluatorSpecError(f"evaluator factory {self.factory!r} must be 'package.module:function'")
        try:
            canonical = json.loads(json.dumps(dict(self.kwargs)))
        except (TypeError, ValueError) as e:
            raise EvaluatorSpecError(f"arguments of evaluator factory {self.factory!r} must be plain JSON "
                                     f"(workers rebuild the evaluator from them): {e}") from None
        object.__setattr__(self, "kwargs", canonical)

    def build(self) -> Evaluator:
        module, _, function = self.factory.partition(":")
        return getattr(importlib.import_module(module), function)(**self.kwargs)

    def to_json(self) -> dict[str, Any]:
        return {"factory": self.factory, "kwargs": dict(self.kwargs)}
