"""The child-network registry (tfnas/spaces/networks.py): what an unknown space's error names.

That every space a search writes trains with binaries.train and exports with binaries.export is
tests/test_tutorial.py's check (the tutorial's chains cover every space with a network).
"""
from __future__ import annotations

import pytest

import tfnas  # noqa: F401


def test_unknown_space_lists_every_space_with_a_network():
    """The error for a space without a network names all that have one, BATS' binary network included."""
    from tfnas.spaces.networks import NoNetworkForGenotype, network_builder

    with pytest.raises(NoNetworkForGenotype) as e:
        network_builder("no_such_space")
    for space in ("bats", "darts", "hurricane", "manas", "nasbench201", "pnas", "vit"):
        assert repr(space) in str(e.value)
