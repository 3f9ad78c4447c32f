"""The one path by which tfnas writes TensorBoard events (scalars, text, images, histograms, HParams).

It writes the same event records ``tf.summary`` writes, through the ``tensorboard`` package's own
event writer and summary protos, so it needs no TensorFlow: tabular searches log to TensorBoard
and still start in a fraction of a second (importing TensorFlow alone takes seconds). Keras'
``TensorBoard`` callback keeps writing model.fit's own metrics; everything tfnas adds (search
curves, architecture heatmaps, genotypes, latencies, trials) goes through ``SummaryWriter``.
"""
from __future__ import annotations

import itertools
import os
import socket
import struct
import time
from typing import Any, Mapping, Sequence

import numpy as np


class SummaryWriter:
    """Appends TensorBoard events to one log directory (created if needed)."""

    _count = itertools.count()

    def __init__(self, logdir: str):
        from tensorboard.summary.writer.record_writer import RecordWriter

        os.makedirs(logdir, exist_ok=True)
        self.logdir = logdir
        # tensorboard's own EventFileWriter opens files through tensorboard.compat.tf, which imports
        # TensorFlow when it is installed; its RecordWriter over a plain file writes the same records.
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.{next(self._count)}"
        self._file = open(os.path.join(logdir, name), "ab")
        self._records = RecordWriter(self._file)
        self._event(file_version="brain.Event:2")

    def _event(self, **fields) -> None:
        from tensorboard.compat.proto import event_pb2

        self._records.write(event_pb2.Event(wall_time=time.time(), **fields).SerializeToString())

    def _add(self, summary, step: int) -> None:
        self._event(step=int(step), summary=summary)

    def scalar(self, tag: str, value: float, step: int) -> None:
        from tensorboard.plugins.scalar import summary_v2

        self._add(summary_v2.scalar_pb(tag, float(value)), step)

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        for tag, value in values.items():
            self.scalar(tag, value, step)

    def text(self, tag: str, text: str, step: int) -> None:
        from tensorboard.plugins.text import summary_v2

        self._add(summary_v2.text_pb(tag, str(text)), step)

    def histogram(self, tag: str, values: Sequence[float], step: int, buckets: int = 30) -> None:
        from tensorboard.plugins.histogram import summary_v2

        self._add(summary_v2.histogram_pb(tag, np.asarray(values, np.float64), buckets=buckets), step)

    def image(self, tag: str, png: bytes, step: int, description: str = "") -> None:
        """One PNG image (e.g. a matplotlib figure saved as PNG)."""
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.plugins.image import metadata
        from tensorboard.util import tensor_util

        width, height = png_size(png)
        tensor = tensor_util.make_tensor_proto([str(width).encode(), str(height).encode(), png], dtype="string")
        meta = metadata.create_summary_metadata(display_name=tag, description=description)
        self._add(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, metadata=meta, tensor=tensor)]),
                  step)

    def hparams_config(self, hparams: Mapping[str, Sequence[Any]], metrics: Sequence[str]) -> None:
        """Declare the HParams dashboard's columns: each hparam's possible values, and the metric tags."""
        from tensorboard.plugins.hparams import summary_v2

        hps = [summary_v2.HParam(name, summary_v2.Discrete(sorted({_hparam_value(v) for v in values}, key=str)))
               for name, values in hparams.items()]
        self._add(summary_v2.hparams_config_pb(hps, [summary_v2.Metric(m) for m in metrics]), 0)

    def hparams_trial(self, hparams: Mapping[str, Any], trial_id: str) -> None:
        """One trial's hparam values (write its metrics as scalars to the same log directory)."""
        from tensorboard.plugins.hparams import summary_v2

        self._add(summary_v2.hparams_pb({k: _hparam_value(v) for k, v in hparams.items()}, trial_id=trial_id), 0)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _hparam_value(value: Any) -> Any:
    """HParams take bool, int, float or str: anything else is shown as its string."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header (IHDR chunk)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)
