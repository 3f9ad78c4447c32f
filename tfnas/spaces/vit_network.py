"""The standalone child ViT of a ``vit`` genotype (registered, so binaries.train / export / profile take it).

patch embedding (conv with stride = kernel = patch size, class token, position embedding) ->
one pre-norm transformer block per non-identity slot -> LayerNorm -> class token -> classifier.
The layers (tfnas/ops/transformer_ops.py) compute the same functions as the super-transformer's
sliceable layers, so a child given a sub-transformer's sliced weights computes that
sub-transformer (``tfnas.supernets.super_transformer``). Layer names carry the slot index
(``block03``), so weights map slot by slot.
"""
from __future__ import annotations

import tensorflow as tf

from tfnas.errors import UserInputError
from tfnas.ops.transformer_ops import ClassifierHead, PatchEmbedding, TransformerBlock
from tfnas.spaces.networks import register_network
from tfnas.spaces.vit import SPACE, ViTGenotype, slot_name

keras = tf.keras

PATCH_EMBED, HEAD = "patch_embed", "head"


def build_vit(genotype: ViTGenotype, num_classes: int, input_shape: tuple[int, int, int]) -> keras.Model:
    """The child network of ``genotype`` as a functional Keras model (logits)."""
    h, w = int(input_shape[0]), int(input_shape[1])
    if (h, w) != (genotype.image_size, genotype.image_size):
        raise UserInputError(f"this ViT genotype was searched at {genotype.image_size}x{genotype.image_size} (its "
                             f"position embeddings and FLOPs are for that size); got images of {h}x{w}: pass "
                             f"--image_size={genotype.image_size}")
    inp = keras.Input(tuple(int(d) for d in input_shape), name="image")
    x = PatchEmbedding(genotype.patch_size, genotype.embed_dim, name=PATCH_EMBED)(inp)
    for i, block in enumerate(genotype.blocks):
        if block is not None:
            x = TransformerBlock(block.heads, block.attention_dim, block.mlp_dim, name=slot_name(i))(x)
    out = ClassifierHead(num_classes, name=HEAD)(x)
    return keras.Model(inp, out, name="vit_child")


def vit_builder(genotype: ViTGenotype, num_classes: int, input_shape, *, layers=None, init_channels=None,
                **unused) -> keras.Model:
    """The registered builder: the genotype fixes depth, widths and the image size it was searched at."""
    return build_vit(genotype, num_classes, input_shape)


register_network(SPACE, vit_builder, sizes=False, input_size=lambda genotype: genotype.image_size)
