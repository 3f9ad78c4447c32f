"""Build the Keras network of any genotype: one entry point for training, export and tests.

The builders themselves are registered by their spaces (tfnas/spaces/networks.py: each
``<space>_network.py`` registers its float network, each ``<space>_binary_network.py`` its Larq
network, loaded only when ``binary=True`` asks for one), so adding a space needs no edit here.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfnas.spaces.networks import NetworkBuilder, NoNetworkForGenotype, network_builder  # noqa: F401

keras = tf.keras


def supports_auxiliary(space: str, binary: bool = False) -> bool:
    return network_builder(space, binary).auxiliary


def build_child(genotype: Any, num_classes: int, input_shape: tuple[int, int, int], layers: int | None = None,
                init_channels: int | None = None, binary: bool = False, **options) -> keras.Model:
    """The network of ``genotype`` (any registered space) at the given or the recipe's size.

    ``binary=True`` builds the space's binary network (Larq layers), e.g. BATS. Options the
    space's builder does not take (an auxiliary head, drop-path) are refused by the builder's
    declaration rather than silently ignored.
    """
    builder = network_builder(genotype.SPACE, bool(binary))
    if options.get("auxiliary") and not builder.auxiliary:
        raise NoNetworkForGenotype(f"the {genotype.SPACE} network has no auxiliary head; drop --auxiliary")
    if not builder.drop_path:
        options.pop("drop_path_rate", None)
        options.pop("generator", None)
    defaults = builder.eval_defaults
    layers = builder.check_depth(genotype, layers)
    return builder.build(genotype, num_classes, tuple(input_shape), layers=layers or defaults.get("layers"),
                         init_channels=init_channels or defaults.get("init_channels"), **options)
