"""Which datasets tfnas knows, where they come from, and the errors when one is missing.

Every dataset is a tfds dataset. The embedded ones (tfnas/data/embedded.py) are prepared on
first use with no network; any other must already be prepared in ``data_dir`` because tfnas
never downloads at run time: the error says how to prepare it offline.
"""
from __future__ import annotations

import dataclasses
import os

import tensorflow_datasets as tfds

from tfnas.data import embedded
from tfnas.errors import UserInputError


class DatasetError(UserInputError):
    """A dataset name tfnas cannot use."""


class DatasetNotPreparedError(DatasetError):
    """A known tfds dataset that is not prepared in data_dir (tfnas never downloads at run time)."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Facts the pipeline needs about a dataset; mean/std None means 'measure on the train split'."""

    name: str
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    flip: bool = True  # horizontal flips keep the label (not for digits)
    train_split: str = "train"
    test_split: str = "test"


KNOWN_DATASETS: dict[str, DatasetSpec] = {
    "mnist_embedded": DatasetSpec("mnist_embedded", (0.1307,), (0.3081,), flip=False),
    "digits_embedded": DatasetSpec("digits_embedded", None, None, flip=False),
    "mnist": DatasetSpec("mnist", (0.1307,), (0.3081,), flip=False),
    "fashion_mnist": DatasetSpec("fashion_mnist", (0.2860,), (0.3530,), flip=True),
    "cifar10": DatasetSpec("cifar10", (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": DatasetSpec("cifar100", (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "svhn_cropped": DatasetSpec("svhn_cropped", (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), flip=False),
    "imagenet2012": DatasetSpec("imagenet2012", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
                                test_split="validation"),
    "imagenet_resized/32x32": DatasetSpec("imagenet_resized/32x32", (0.481, 0.457, 0.408), (0.260, 0.253, 0.268),
                                          test_split="validation"),
}

_PREPARE_HINT = {
    "imagenet2012": "download ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar by hand into "
                    "<data_dir>/downloads/manual/, then run `tfds build imagenet2012 --data_dir=<data_dir>`",
}


def spec_for(name: str) -> DatasetSpec:
    """The spec of a known dataset, or a generic one for any other tfds name (stats measured)."""
    return KNOWN_DATASETS.get(name, DatasetSpec(name))


def get_builder(name: str, data_dir: str | None = None) -> tfds.core.DatasetBuilder:
    """A prepared tfds builder for ``name``; embedded datasets are prepared here, offline.

    Raises DatasetError for a name tfds does not know and DatasetNotPreparedError for a dataset
    that is not prepared in ``data_dir`` (with the command that prepares it).
    """
    if not isinstance(name, str) or not name:
        raise DatasetError(f"--dataset must be a dataset name, got {name!r}; known: {sorted(KNOWN_DATASETS)}")
    if name in embedded.EMBEDDED_DATASETS:
        builder = embedded.EMBEDDED_DATASETS[name](data_dir=data_dir)
        if not _is_prepared(builder):
            builder.download_and_prepare()
        return builder
    try:
        builder = tfds.builder(name, data_dir=data_dir, try_gcs=False)
    except Exception as e:  # tfds raises DatasetNotFoundError and friends
        raise DatasetError(
            f"unknown dataset {name!r} ({type(e).__name__}). Use one of {sorted(KNOWN_DATASETS)} "
            "or any dataset name tfds knows (`tfds.list_builders()`), prepared in --data_dir."
        ) from None
    if not _is_prepared(builder):
        where = data_dir or "~/tensorflow_datasets"
        hint = _PREPARE_HINT.get(name.split("/")[0],
                                 f"on a machine with internet run `tfds build {name} --data_dir=<dir>` "
                                 f"(or tfds.load('{name}', data_dir=<dir>)) and copy <dir> here")
        raise DatasetNotPreparedError(
            f"dataset {name!r} is not prepared in {where} and tfnas never downloads at run time. "
            f"To prepare it offline: {hint}; then pass --data_dir=<dir>. "
            "Or use --dataset=mnist_embedded, which ships with tfnas' requirements."
        )
    return builder


def dataset_geometry(name: str, data_dir: str | None = None) -> tuple[int, int]:
    """(image channels, classes) of a dataset from its tfds metadata (or one image of a folder), without loading it."""
    from tfnas.data import folder, user_data  # both import this module

    if folder.is_folder_dataset(name):
        return folder.geometry(name)
    if user_data.is_user_dataset(name):
        data = user_data.load(name)
        return data.image_shape[-1], data.num_classes
    info = get_builder(name, data_dir).info
    image_key, label_key = info.supervised_keys
    return int(info.features[image_key].shape[-1]), int(info.features[label_key].num_classes)


def _is_prepared(builder: tfds.core.DatasetBuilder) -> bool:
    return os.path.exists(os.path.join(str(builder.data_dir), "dataset_info.json"))
