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
