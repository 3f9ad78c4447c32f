"""The Python API: one entry point per job, taking the binaries' settings as keyword arguments.

    import tfnas
    result = tfnas.search_architecture("single_darts", space="nasbench201", train_data=ds_train, val_data=ds_val,
                          epochs=10, output_dir="runs/sd")        # or dataset="cifar10"
    model = result.build_model(num_classes=10)                  # a plain tf.keras model
    trained = tfnas.train(result, train_data=ds_train, val_data=ds_val, epochs=20, output_dir="runs/train")
    tfnas.export(trained, "model.tflite", format="int8")         # calibrated on the training images
    tfnas.profile("model.tflite")                               # LiteRT latency on this machine

Every keyword is the flag of the same name (``tfnas.search_architecture("darts", order=2, ...)`` is
``binaries.search_darts --order=2``): the job builds the same config dataclass the binary builds
(tfnas/configs), checks it before any heavy work, and calls the same driver, so a run started from
Python resumes from the command line and the other way round. ``train_data`` / ``val_data`` are a
user's own ``tf.data.Dataset`` of (image, label) pairs, batched or not (tfnas.data.user_data);
without them ``dataset`` names a tfds dataset, ``folder:<root>`` or an embedded one.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

from tfnas.errors import ConfigError

SEARCH_METHODS = ("single_darts", "darts", "bats", "hurricane", "vitas", "manas")
"""Methods ``search_architecture`` runs in this process. The discrete searches (random, evolution, PNAS) run from
their binaries (binaries.search_random / search_evolution / search_pnas) in this version."""


@dataclasses.dataclass
class SearchResult:
    """What a search found: its genotype (the space's object), the search summary and where it lives."""

    method: str
    output_dir: str
    genotype: Any
    summary: dict[str, Any]

    @property
    def genotype_path(self) -> str:
        return os.path.join(self.output_dir, "genotype.json")

    def build_model(self, num_classes: int, input_shape: tuple[int, int, int] | None = None,
                    layers: int | None = None, init_channels: int | None = None, binary: bool | None = None,
                    **options):
        """The found architecture as a plain (untrained) tf.keras model, at the recipe's size unless given.

        ``input_shape`` defaults to the space's own input size where it fixes one (HURRICANE, ViTAS),
        else 32x32x3. BATS genotypes build their binary (Larq) network unless ``binary=False``.
        """
        from tfnas.training.child_networks import build_child, network_builder

        binary = (self.method == "bats") if binary is None else binary
        builder = network_builder(self.genotype.SPACE, binary)
        if input_shape is None:
            size = builder.input_size(self.genotype) if builder.input_size else 32
            input_shape = (size, size, 3)
        return build_child(self.genotype, num_classes, tuple(input_shape), layers=layers,
                           init_channels=init_channels, binary=binary, **options)


@dataclasses.dataclass
class TrainResult:
    """A trained network: the Keras model, the training summary and the model directory export reads."""

    model: Any
    model_dir: str
    summary: dict[str, Any]

    @property
    def test_accuracy(self) -> float:
        return float(self.summary["test_accuracy"])


def _data_settings(settings: dict[str, Any], train_data, val_data, num_classes: int | None = None) -> dict[str, Any]:
    """``dataset`` for the config: the user's tf.data pipelines registered in memory, or as given."""
    if train_data is None:
        if val_data is not None:
            raise ConfigError("val_data needs train_data (or pass dataset=<name> alone)")
        return settings
    if "dataset" in settings:
        raise ConfigError("pass either train_data (a tf.data.Dataset) or dataset=<name>, not both")
    from tfnas.data import user_data

    flip = settings.pop("flip", True)
    return {**settings, "dataset": user_data.register(train_data, val_data, num_classes=num_classes,
                                                      seed=settings.get("seed", 0), flip=flip)}


def _config(cls, settings: dict[str, Any], **fixed):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(settings) - names)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)} for {cls.__name__}; it takes "
                          f"{', '.join(sorted(names - set(fixed)))}")
    config = cls(**{**settings, **fixed})
    validate = getattr(config, "validate", None) or getattr(config, "check")
    validate()
    return config


def _search_job(method: str, settings: dict[str, Any]) -> tuple[Any, Callable[[Any], dict[str, Any]]]:
    """(config, driver) of ``method``."""
    if method in ("single_darts", "darts"):
        from tfnas.configs.differentiable import SearchConfig

        def run(config):
            from tfnas.methods.differentiable_search import run_differentiable_search
            return run_differentiable_search(config)
        return _config(SearchConfig, settings, method=method), run
    if method == "bats":
        from tfnas.configs.bats import BatsSearchConfig

        def run(config):
            from tfnas.methods.bats import run_bats_search
            return run_bats_search(config)
        return _config(BatsSearchConfig, settings), run
    if method == "hurricane":
        from tfnas.configs.hurricane import HurricaneSearchConfig

        def run(config):
            from tfnas.methods.hurricane import run_hurricane_search
            return run_hurricane_search(config)
        return _config(HurricaneSearchConfig, settings), run
    if method == "vitas":
        from tfnas.configs.vitas import VitasSearchConfig

        def run(config):
            from tfnas.methods.vitas import run_vitas_search
            return run_vitas_search(config)
        return _config(VitasSearchConfig, settings), run
    if method == "manas":
        from tfnas.methods.manas import ManasConfig, run_manas_search

        return _config(ManasConfig, settings), run_manas_search
    if method in ("random", "evolution", "pnas"):
        raise ConfigError(f"tfnas.search_architecture({method!r}) is not in the Python API yet; run "
                          f"python -m binaries.search_{method} (same settings as flags)")
    raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(SEARCH_METHODS)}")


def search_architecture(method: str, *, train_data=None, val_data=None, **settings) -> SearchResult:
    """Run (or resume) a search with ``method``; the settings are the method's binary's flags.

    ``train_data`` / ``val_data``: a user's (image, label) ``tf.data.Dataset``s instead of
    ``dataset=<name>``; the search cuts its own held-out part from ``train_data`` (``train_portion``),
    ``val_data`` is what it reports test accuracy on. ``flip=False`` for images that a horizontal
    flip changes the meaning of. Returns the genotype, the summary and the output directory.
    """
    from tfnas.spaces.base import load_genotype

    config, run = _search_job(method, _data_settings(dict(settings), train_data, val_data))
    summary = run(config)
    output_dir = os.path.abspath(config.output_dir)
    return SearchResult(method, output_dir, load_genotype(os.path.join(output_dir, "genotype.json")), summary)


def train(genotype, *, train_data=None, val_data=None, **settings) -> TrainResult:
    """Train a found architecture with the DARTS evaluation recipe (binaries.train's flags as settings).

    ``genotype``: a ``SearchResult``, a genotype.json path or a genotype object. BATS results train
    their binary network (``binary=True``) unless told otherwise.
    """
    from tfnas.configs.train import TrainConfig
    from tfnas.spaces.base import save_genotype

    settings = dict(settings)
    if isinstance(genotype, SearchResult):
        settings.setdefault("binary", genotype.method == "bats")
        path = genotype.genotype_path
    elif isinstance(genotype, (str, os.PathLike)):
        path = os.fspath(genotype)
    else:
        if "output_dir" not in settings:
            raise ConfigError("pass output_dir=<dir> (the genotype is written there, then trained)")
        path = os.path.join(settings["output_dir"], "genotype.json")
        save_genotype(genotype, path)
    config = _config(TrainConfig, _data_settings(settings, train_data, val_data), genotype=path)
    from tfnas.training.model_io import load_trained_model
    from tfnas.training.trainer import train_genotype

    summary = train_genotype(config)
    return TrainResult(load_trained_model(summary["model_dir"]), summary["model_dir"], summary)


def _representative_images(representative_data, count: int):
    """Calibration images as the model takes them, from a tf.data.Dataset or an array."""
    import numpy as np

    if representative_data is None:
        return None
    if hasattr(representative_data, "element_spec"):
        spec = representative_data.element_spec
        ds = representative_data.map(lambda x, *_: x) if isinstance(spec, tuple) else representative_data
        if ds.element_spec.shape.rank == 4:
            ds = ds.unbatch()
        return np.stack(list(ds.take(count).as_numpy_iterator())).astype(np.float32)
    return np.asarray(representative_data, np.float32)[:count]


def export(model, path: str, format: str = "tflite", representative_data=None,
           num_calibration_images: int = 200) -> dict[str, Any]:
    """Write ``model`` as ``format`` (tflite, int8, lce) to ``path``; returns the file's facts.

    ``model``: a ``TrainResult`` or a trained model directory (int8 calibrates on the training
    images of the dataset it was trained on, normalised as in training, unless
    ``representative_data`` is given), or any tf.keras model (int8 then needs
    ``representative_data``: images exactly as the model takes them, a tf.data.Dataset or an array).
    """
    from tfnas.hardware import export as export_lib

    images = _representative_images(representative_data, num_calibration_images)
    model_dir = model.model_dir if isinstance(model, TrainResult) else model if isinstance(model, str) else None
    if model_dir is not None and images is None:
        from tfnas.hardware.trained_export import export_model_dir

        return export_model_dir(model_dir, format, path, num_calibration_images=num_calibration_images)
    if model_dir is not None:
        from tfnas.training.model_io import load_trained_model

        model = load_trained_model(model_dir)
    from tfnas.hardware import lce  # noqa: F401  (registers format="lce")

    if format not in export_lib.FORMATS:
        raise export_lib.ExportError(f"unsupported format={format!r}; supported: {sorted(export_lib.FORMATS)}")
    if export_lib.FORMATS[format].needs_representative_data and images is None:
        raise export_lib.ExportError(f"format={format!r} needs representative_data (calibration images as the "
                                     "model takes them) for a plain Keras model")
    return export_lib.export_tflite(model, path, format, images)


def profile(tflite_path: str, num_threads: int = 1, num_runs: int = 100, warmup_runs: int = 10,
            method: str = "in_process") -> dict[str, Any]:
    """LiteRT latency of a .tflite file on this machine (median, p5, p95 ms; the device it ran on); an LCE
    model (``export(..., format="lce")``) is timed in LCE's interpreter."""
    from tfnas.hardware.litert import measure_file_latency

    return measure_file_latency(tflite_path, num_threads=num_threads, num_runs=num_runs, warmup_runs=warmup_runs,
                                method=method)
