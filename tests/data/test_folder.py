"""A user's own image folder as a dataset (--dataset=folder:<root>): classes, size, splits, clear errors."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from tfnas.data import DatasetError, load_image_data


def write_folder(root, images, labels, names=("zero", "one", "two"), split="train", size=None):
    for i, (x, y) in enumerate(zip(images, labels)):
        d = os.path.join(root, split, names[int(y)])
        os.makedirs(d, exist_ok=True)
        im = Image.fromarray(x[..., 0])
        if size:
            im = im.resize(size)
        im.save(os.path.join(d, f"{i:04d}.png"))


@pytest.fixture(scope="module")
def three_digits(mnist, tmp_path_factory):
    """Embedded-MNIST images of digits 0, 1, 2 written as PNG files in the ImageFolder layout."""
    root = str(tmp_path_factory.mktemp("folder"))
    keep = np.flatnonzero(mnist.train_labels < 3)[:150]
    write_folder(root, mnist.train_images[keep], mnist.train_labels[keep])
    return root, mnist.train_images[keep], mnist.train_labels[keep]


def test_folder_dataset_takes_classes_size_and_a_held_out_split_from_the_folder(three_digits):
    root, images, labels = three_digits
    data = load_image_data(f"folder:{root}")
    assert data.num_classes == 3 and data.image_shape == (28, 28, 1)
    assert data.num_train + len(data.test_labels) == len(labels)
    assert 0.15 < len(data.test_labels) / len(labels) < 0.25
    assert set(np.unique(data.test_labels)) == {0, 1, 2}
    # The images read back are the ones written, each under its class (label folders sorted: one, two, zero).
    written = sorted((x.tobytes(), ("zero", "one", "two")[int(y)]) for x, y in zip(images, labels))
    loaded = sorted((x.tobytes(), ("one", "two", "zero")[int(y)])
                    for x, y in zip(np.concatenate([data.train_images, data.test_images]),
                                    np.concatenate([data.train_labels, data.test_labels])))
    assert loaded == written and data.train_images.dtype == np.uint8


def test_a_test_split_is_used_and_image_size_resizes(three_digits, tmp_path):
    _, images, labels = three_digits
    root = str(tmp_path / "own")
    write_folder(root, images[:60], labels[:60])
    write_folder(root, images[60:90], labels[60:90], split="test")
    data = load_image_data(f"folder:{root}", image_size=16)
    assert data.num_train == 60 and len(data.test_labels) == 30 and data.image_shape == (16, 16, 1)


@pytest.mark.parametrize("case, message", [
    ("missing", "is not a directory"),
    ("empty", "no images"),
    ("one_class", "only one class"),
    ("unreadable", "unreadable image file"),
])
def test_bad_folders_are_clear_errors(case, message, three_digits, tmp_path):
    _, images, labels = three_digits
    root = str(tmp_path / case)
    if case == "empty":
        os.makedirs(os.path.join(root, "train", "cats"))
    elif case == "one_class":
        write_folder(root, images[:5], np.zeros(5))
    elif case == "unreadable":
        write_folder(root, images[:10], labels[:10])
        with open(os.path.join(root, "train", "one", "broken.png"), "wb") as f:
            f.write(b"not a png")
    with pytest.raises(DatasetError, match=message):
        load_image_data(f"folder:{root}")


def test_a_tiny_search_runs_on_the_folder(three_digits, tmp_path):
    from tfnas.methods.differentiable_search import SearchConfig, run_differentiable_search

    root, _, _ = three_digits
    summary = run_differentiable_search(SearchConfig(
        output_dir=str(tmp_path / "search"), dataset=f"folder:{root}", space="nasbench201", layers=1,
        init_channels=4, epochs=1, steps_per_epoch=2, batch_size=16, validation_steps=1, verbose=0))
    assert summary["genotype"]["space"] == "nasbench201" and summary["dataset"] == f"folder:{root}"
