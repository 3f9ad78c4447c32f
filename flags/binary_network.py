"""Flags describing a binary (BATS) network, shared by binaries.search_bats and binaries.train --binary."""
from __future__ import annotations

from absl import flags

GROUPS = flags.DEFINE_integer(
    "groups", None, "Groups of every grouped binary convolution (the BATS library's default: 12). Unset = automatic: "
    "for a trained network, the most groups up to 12 that leave a multiple of 32 input channels per group (what "
    "larq-compute-engine needs to run a grouped binary conv as a binary op; 64 channels -> 2, 384 -> 12); for the "
    "search network, the groups of the network it will deploy as (search_bats --deploy_init_channels).")
SHUFFLE_GROUPS = flags.DEFINE_integer(
    "shuffle_groups", 4, "Groups of the channel shuffle after each grouped binary conv (the BATS library's 4).")
BINARY_PREPROCESS = flags.DEFINE_bool(
    "binary_preprocess", True, "Binary 1x1 convolutions in each cell's input preprocessing (BN -> sign -> conv -> "
    "PReLU, as the BATS library binarises them); false keeps them real-valued.")
BINARY_DOWNSAMPLE = flags.DEFINE_bool(
    "binary_downsample", False, "Binary FactorizedReduce (stride-2 skip and the input after a reduction cell); the "
    "default keeps downsampling real-valued, as BATS does.")
