"""Build the Keras network of any genotype: one entry point for training, export and tests.

Spaces register a builder here (``register_builder``) so that ``binaries.train`` and
``load_trained_model`` rebuild the same network from a genotype.json and a small config.
Binary networks (``binary=True``: BATS, naive binary DARTS) have builders of their own, registered
lazily from tfnas.spaces.bats_network (Larq is loaded only when asked for); a genotype whose space only has a binary network (BATS) is refused
by the float path with a message saying so.
"""
from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf

from tfnas.errors import UserInputError
from tfnas.spaces import darts as darts_space
from tfnas.spaces import nasbench201 as nb201_space

keras = tf.keras

Builder = Callable[..., keras.Model]
"""builder(genotype, num_classes, input_shape, *, layers, init_channels, auxiliary, drop_path_rate,
generator, **space_options) -> keras.Model (logits, or [logits, aux] with auxiliary)."""

EVAL_DEFAULTS: dict[str, dict[str, Any]] = {
    darts_space.SPACE: {"layers": 20, "init_channels": 36},
    nb201_space.SPACE: {"layers": 5, "init_channels": 16},
}
"""Evaluation-recipe network sizes: DARTS CIFAR-10 (20 cells, 36 channels), NAS-Bench-201 (N=5, C=16)."""

BINARY_EVAL_DEFAULTS: dict[str, dict[str, Any]] = {}
"""Evaluation sizes of the binary networks, per space (registered with their builders)."""

_BUILDERS: dict[tuple[str, bool], Builder] = {}


def register_builder(space: str, builder: Builder, eval_defaults: dict[str, Any] | None = None,
                     binary: bool = False) -> None:
    _BUILDERS[(space, binary)] = builder
    if eval_defaults:
        (BINARY_EVAL_DEFAULTS if binary else EVAL_DEFAULTS)[space] = eval_defaults


def _import_binary_builders() -> None:
    # Imported lazily: the binary builders need Larq, which float-only users never load.
    if any(binary for _, binary in _BUILDERS):
        return
    from tfnas.spaces import bats_network

    register_builder(bats_network.bats_space.SPACE, bats_network.bats_builder, bats_network.EVAL_DEFAULTS, binary=True)
    register_builder(darts_space.SPACE, bats_network.binary_darts_builder, bats_network.BINARY_DARTS_EVAL_DEFAULTS,
                     binary=True)


def _darts(genotype, num_classes, input_shape, *, layers, init_channels, auxiliary=False, drop_path_rate=None,
           generator=None, stem="auto", **unused):
    from tfnas.spaces.darts_network import build_darts_network

    if stem == "auto":
        stem = "imagenet" if input_shape[0] >= 128 else "cifar"
    return build_darts_network(genotype, num_classes, input_shape, init_channels, layers, auxiliary, stem,
                               drop_path_rate, generator)


def _nasbench201(genotype, num_classes, input_shape, *, layers, init_channels, auxiliary=False, **unused):
    from tfnas.spaces.nasbench201_network import build_nasbench201_network

    if auxiliary:
        raise ValueError("the NAS-Bench-201 network has no auxiliary head; drop --auxiliary")
    return build_nasbench201_network(genotype, num_classes, input_shape, init_channels, layers)


register_builder(darts_space.SPACE, _darts)
register_builder(nb201_space.SPACE, _nasbench201)


def supports_auxiliary(space: str) -> bool:
    return space != nb201_space.SPACE


class NoNetworkForGenotype(UserInputError):
    """The genotype's space has no (float or binary) network of the kind asked for."""


def build_child(genotype: Any, num_classes: int, input_shape: tuple[int, int, int], layers: int | None = None,
                init_channels: int | None = None, binary: bool = False, **options) -> keras.Model:
    """The network of ``genotype`` (any registered space) at the given or the recipe's size.

    ``binary=True`` builds the space's binary network (Larq layers), e.g. BATS.
    """
    space = genotype.SPACE
    if binary or (space, False) not in _BUILDERS:
        _import_binary_builders()
    key = (space, bool(binary))
    if key not in _BUILDERS:
        if binary:
            spaces = sorted(s for s, b in _BUILDERS if b)
            raise NoNetworkForGenotype(f"space {space!r} has no binary network (binary networks exist for {spaces}); "
                                       "drop --binary to train its float network")
        if (space, True) in _BUILDERS:
            raise NoNetworkForGenotype(f"a {space!r} genotype describes a binary network and the float space has no "
                                       "network for it: train it with --binary (binaries.train --binary)")
        raise NoNetworkForGenotype(f"no network builder for space {space!r}; registered: "
                                   f"{sorted(s for s, b in _BUILDERS if not b)}")
    defaults = (BINARY_EVAL_DEFAULTS if binary else EVAL_DEFAULTS).get(space, {})
    return _BUILDERS[key](genotype, num_classes, tuple(input_shape),
                          layers=layers or defaults.get("layers"),
                          init_channels=init_channels or defaults.get("init_channels"), **options)
