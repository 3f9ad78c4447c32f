"""Channel shuffle, the one implementation the mobile (ShuffleNetV2) and binary (BATS) ops share."""
from __future__ import annotations

import tensorflow as tf


def channel_shuffle(x: tf.Tensor, groups: int, blocks: int = 1) -> tf.Tensor:
    """Interleave ``groups`` channel groups ([g, c/g] -> [c/g, g]) within each of ``blocks`` channel blocks.

    ``blocks`` > 1 is the batched supernet's layout: G edges' outputs side by side, each shuffled on its
    own. With static spatial dimensions the reshapes are static, so a converted TFLite model holds one
    reshape-transpose-reshape and no shape arithmetic (latency tables time exactly that).
    """
    if groups <= 1:
        return x
    c = x.shape[-1] // blocks
    if c % groups:
        raise ValueError(f"channel shuffle with {groups} groups needs channels divisible by {groups}, got {c}")
    h, w = x.shape[1], x.shape[2]
    if h is not None and w is not None:
        if blocks == 1:
            y = tf.reshape(x, [-1, h, w, groups, c // groups])
            return tf.reshape(tf.transpose(y, [0, 1, 2, 4, 3]), [-1, h, w, c])
        y = tf.reshape(x, [-1, h, w, blocks, groups, c // groups])
        return tf.reshape(tf.transpose(y, [0, 1, 2, 3, 5, 4]), [-1, h, w, blocks * c])
    shape = tf.shape(x)
    y = tf.reshape(x, tf.concat([shape[:3], [blocks, groups, c // groups]], 0))
    y = tf.transpose(y, [0, 1, 2, 3, 5, 4])
    return tf.reshape(y, tf.concat([shape[:3], [blocks * c]], 0))
