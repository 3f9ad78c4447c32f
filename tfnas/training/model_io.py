"""A trained model directory: config.json (genotype, sizes, dataset, normalisation) + weights.

The network is rebuilt from its genotype and configuration and the weights loaded into it, so
the directory stays valid across library versions that keep the genotype format (no pickled
Python classes, unlike a whole-model SavedModel of custom layers).
"""
from __future__ import annotations

import os
from typing import Any

import tensorflow as tf

from tfnas.errors import UserInputError
from tfnas.spaces.base import genotype_from_json
from tfnas.training.child_networks import build_child
from tfnas.files import read_json, write_json

keras = tf.keras

WEIGHTS = "weights"  # TF-format checkpoint prefix inside the model directory


def save_trained_model(model: keras.Model, model_dir: str, config: dict[str, Any]) -> str:
    """Write the inference model's weights and its rebuild configuration."""
    os.makedirs(model_dir, exist_ok=True)
    model.save_weights(os.path.join(model_dir, WEIGHTS))
    write_json(os.path.join(model_dir, "config.json"), config)
    return model_dir


def load_model_config(model_dir: str) -> dict[str, Any]:
    path = os.path.join(model_dir, "config.json")
    config = read_json(path)
    if config is None:
        raise UserInputError(f"{model_dir} is not a trained model directory (no config.json); pass the 'model' "
                             "directory that binaries.train writes into its --output_dir.")
    return config


def load_trained_model(model_dir: str) -> keras.Model:
    """Rebuild the single-output inference network of a trained model directory and load its weights."""
    config = load_model_config(model_dir)
    genotype = genotype_from_json(config["genotype"], source=os.path.join(model_dir, "config.json"))
    options = {k: config[k] for k in ("stem",) if config.get(k) is not None}
    options.update(config.get("builder_options", {}))
    model = build_child(genotype, config["num_classes"], tuple(config["input_shape"]), config.get("layers"),
                        config.get("init_channels"), auxiliary=False, **options)
    model.load_weights(os.path.join(model_dir, WEIGHTS)).expect_partial()
    return model


# --- weight inheritance (a search's supernet weights as a child's starting point) -------------------------
INHERITED_MODEL = "inherited_model"
"""Model directory inside a search's output_dir holding the found genotype's child with the supernet's
weights (ViTAS writes it); ``binaries.train --inherit_from=<search output_dir>`` starts from it."""


def inherited_model_dir(genotype: Any, search_dir: str) -> str:
    """The model directory of the weights a search left for ``genotype``'s child (checked, nothing loaded).

    Refuses a directory without inherited weights and a search whose found genotype is another one
    (the weights would not fit, or fit the wrong network), naming the fix.
    """
    model_dir = os.path.join(search_dir, INHERITED_MODEL)
    config = read_json(os.path.join(model_dir, "config.json"))
    if config is None:
        raise UserInputError(f"--inherit_from={search_dir} holds no {INHERITED_MODEL}/ (written by search_vitas at "
                             "the end of a search); pass the output_dir of a finished ViTAS search")
    if config.get("genotype") != genotype.to_json():
        raise UserInputError(f"--inherit_from={search_dir} holds weights for another genotype than --genotype; pass "
                             f"--genotype={os.path.join(search_dir, 'genotype.json')}")
    return model_dir


def load_inherited_weights(network: keras.Model, model_dir: str) -> None:
    network.load_weights(os.path.join(model_dir, WEIGHTS)).expect_partial()
