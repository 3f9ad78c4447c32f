"""Does HURRICANE's single-path supernet learn at a small budget? Training accuracy per 50 steps.

    python benchmarks/spos_plateau.py --candidates=4 --steps=150
    python benchmarks/spos_plateau.py --candidates=4 --steps=150 --fixed_path
    python benchmarks/spos_plateau.py --candidates=2 --steps=500
    python benchmarks/spos_plateau.py --steps=200 --zero_init_residual --fix_strided

The supernet of ``search_hurricane`` (``SinglePathSupernet``, PathSGD, SPOS' label smoothing and
affine-free BN unless changed) over mnist_embedded at 32x32, with the same ``--candidates`` ops at
every one of the 20 layers (the first of mbconv_k3_e3, mbconv_k5_e6, shufflenet_k3, mbconv_k3_e1),
trained with uniform random paths (SPOS) or with one fixed path (``--fixed_path``: candidate 0
everywhere, the same graph with the sampling switched off). The gap between the two is what path
sampling costs the supernet's learning at this budget: if the sampled supernet is still at chance
when the evolution scores candidates, their ranking is noise. Two diagnostics of why (issue 13.1):
``--zero_init_residual`` starts every inverted residual with a shortcut as the identity (its last
BN's scale at 0, learned), ``--fix_strided`` gives the four non-residual strided layers (each
stage's first) candidate 0 only; either removes one source of path-to-path disagreement at
initialisation. ``--fix_strided`` is not SPOS (those layers are searched), only a measurement.
The last line is one JSON object:
the training loss and accuracy after every 50 steps and the wall seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tfnas  # noqa: F401  (Keras 2 before TensorFlow)

OPS = ("mbconv_k3_e3", "mbconv_k5_e6", "shufflenet_k3", "mbconv_k3_e1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--steps", type=int, default=150, help="a multiple of 50")
    parser.add_argument("--ops", default=",".join(OPS), help="the candidate ops, in order (the first --candidates)")
    parser.add_argument("--fixed_path", action="store_true", help="train candidate 0 at every layer, no sampling")
    parser.add_argument("--learning_rate", type=float, default=0.05, help="search_hurricane's default")
    parser.add_argument("--label_smoothing", type=float, default=0.1)
    parser.add_argument("--bn_affine", action="store_true", help="affine BN in the supernet (SPOS: off)")
    parser.add_argument("--plain_sgd", action="store_true", help="Keras SGD instead of PathSGD")
    parser.add_argument("--width_multiplier", type=float, default=0.25)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--zero_init_residual", action="store_true",
                        help="zero-initialised (learned) scale of every residual branch's last BN")
    parser.add_argument("--fix_strided", action="store_true",
                        help="diagnostic, not SPOS: each stage's strided first layer gets candidate 0 only")
    args = parser.parse_args()

    import tensorflow as tf

    from tfnas import data as data_lib
    from tfnas.methods.hurricane import supernet_loss
    from tfnas.spaces import hurricane
    from tfnas.supernets.path_sampling import PathSGD
    from tfnas.supernets.single_path import SinglePathSupernet

    keras = tf.keras
    keras.utils.set_random_seed(args.seed)
    data = data_lib.load_image_data("mnist_embedded", None, image_size=32)
    config = hurricane.HurricaneConfig(32, args.width_multiplier, data.image_shape[-1], data.num_classes)
    ops = args.ops.split(",")[:args.candidates]
    candidates = [ops[:1] if args.fix_strided and pos.stride == 2 else ops for pos in config.positions()]
    supernet = SinglePathSupernet(config, candidates, seed=args.seed, bn_affine=args.bn_affine,
                                  zero_init_residual=args.zero_init_residual)
    if args.plain_sgd:
        optimizer = keras.optimizers.SGD(args.learning_rate, momentum=0.9)
    else:
        optimizer = PathSGD(learning_rate=args.learning_rate, momentum=0.9, weight_decay_l2=4e-5).attach(supernet)
    supernet.compile(optimizer=optimizer, loss=supernet_loss(args.label_smoothing))
    if args.fixed_path:
        supernet.use_path(np.zeros(hurricane.NUM_LAYERS, np.int32))
    stream = data_lib.train_stream(data, np.arange(len(data.train_labels)), args.batch_size, args.seed,
                                   data_lib.Augment.standard(data), 0, 50)
    start = time.perf_counter()
    history = supernet.fit(stream, epochs=max(1, args.steps // 50), steps_per_epoch=50, verbose=0).history
    print(json.dumps({"ops": args.ops.split(",")[:args.candidates], "candidates": args.candidates, "fixed_path": args.fixed_path, "steps": args.steps,
                      "learning_rate": args.learning_rate, "bn_affine": args.bn_affine, "plain_sgd": args.plain_sgd,
                      "zero_init_residual": args.zero_init_residual, "fix_strided": args.fix_strided,
                      "loss": [round(v, 3) for v in history["loss"]],
                      "accuracy": [round(v, 3) for v in history["accuracy"]],
                      "chance": round(1 / data.num_classes, 3), "wall_s": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
