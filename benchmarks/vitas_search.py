"""ViTAS search quality on the embedded data: found architecture vs random ones from the FLOPs window; class-token ablation.

For each seed: ``run_vitas_search`` (cpu_28 space, the given window, BCNet sharing, the paper's
recipe at a CPU budget), then the found genotype and 5 random genotypes drawn from the same window
(identity probability tuned as the search does, rejection outside the window) are each trained
from scratch with the same budget (``train_genotype``: Adam, label smoothing 0.1, one warm-up
epoch) and scored on the test split. Bar: the found architecture lies inside the window and its
retrained accuracy is at least the mean of the random ones.

Ablation (private vs shared class token): the seed-0 search's super-transformer (private class
token per patch size) and one trained identically but with one shared class token rank the first
8 retrained architectures (seed 0's found + randoms, then seed 1's); Kendall tau between each
supernet's accuracies and the standalone test accuracies.

Usage: python benchmarks/vitas_search.py --work_dir=/tmp/vitas_bench [--seeds 0 1 2] [--epochs 5]
Re-running with the same --work_dir resumes every search and training. Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfnas  # noqa: E402,F401

import numpy as np  # noqa: E402

from tfnas import data as data_lib  # noqa: E402
from tfnas.hardware.litert import device_identity  # noqa: E402
from tfnas.methods import vitas as method  # noqa: E402
from tfnas.run_dir import RunDirectory  # noqa: E402
from tfnas.spaces import vit  # noqa: E402
from tfnas.spaces.base import save_genotype  # noqa: E402
from tfnas.training.checkpointing import ResumableState  # noqa: E402
from tfnas.training.trainer import TrainConfig, train_genotype  # noqa: E402


def random_in_window(space: vit.ViTSpace, p: float, lo: float, hi: float, count: int, seed: int) -> list[dict]:
    rng, out = np.random.default_rng(seed), []
    while len(out) < count:
        arch = space.sample(rng, p)
        if lo <= space.mflops(arch) <= hi and all(space.categorical.key(arch) != space.categorical.key(a) for a in out):
            out.append(arch)
    return out


def retrain(genotype: vit.ViTGenotype, out: str, args, seed: int, data_dir: str | None) -> float:
    path = os.path.join(out, "genotype.json")
    os.makedirs(out, exist_ok=True)
    save_genotype(genotype, path)
    summary = train_genotype(TrainConfig(
        output_dir=out, genotype=path, data_dir=data_dir, seed=seed, epochs=args.train_epochs, batch_size=64,
        optimizer="adam", learning_rate=1e-3, weight_decay=0.0, label_smoothing=0.1, warmup_epochs=1, cutout=0,
        drop_path=0.0, auxiliary=False, grad_clip=5.0, verbose=0))
    return float(summary["test_accuracy"])


def supernet_from(config: method.VitasSearchConfig, space: vit.ViTSpace, probability: float, steps: int):
    supernet = method.build_supernet(config, space, probability, steps)
    ResumableState(supernet, RunDirectory(config.output_dir)).restore_latest()
    return supernet


def kendall_tau(a, b) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work_dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--min_mflops", type=float, default=1.0)
    parser.add_argument("--max_mflops", type=float, default=1.4)
    parser.add_argument("--epochs", type=int, default=5, help="super-transformer epochs")
    parser.add_argument("--train_epochs", type=int, default=5, help="epochs of each standalone training")
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--randoms", type=int, default=5)
    parser.add_argument("--data_dir", default=None)
    args = parser.parse_args()
    started = time.time()
    channels, classes = data_lib.dataset_geometry("mnist_embedded", args.data_dir)
    runs, ablation_archs = [], []
    base = None
    for seed in args.seeds:
        config = method.VitasSearchConfig(
            output_dir=os.path.join(args.work_dir, f"search_seed{seed}"), min_mflops=args.min_mflops,
            max_mflops=args.max_mflops, data_dir=args.data_dir, seed=seed, epochs=args.epochs, warmup_epochs=1,
            evolution_population_size=args.population, evolution_generations=args.generations, eval_examples=800,
            verbose=0)
        base = base or config
        t0 = time.time()
        summary = method.run_vitas_search(config)
        search_s = time.time() - t0
        space = config.space(channels, classes)
        found = vit.ViTGenotype.from_json(summary["genotype"])
        p = summary["identity_tuning"]["evolution"]["identity_probability"]
        randoms = [space.genotype(a) for a in random_in_window(space, p, args.min_mflops, args.max_mflops,
                                                               args.randoms, seed + 100)]
        found_acc = retrain(found, os.path.join(args.work_dir, f"train_seed{seed}_found"), args, seed, args.data_dir)
        random_accs = [retrain(g, os.path.join(args.work_dir, f"train_seed{seed}_random{i}"), args, seed,
                               args.data_dir) for i, g in enumerate(randoms)]
        runs.append({"seed": seed, "found": str(found), "found_mflops": summary["mflops"],
                     "in_window": args.min_mflops <= summary["mflops"] <= args.max_mflops,
                     "found_supernet_fitness": summary["supernet_fitness"], "found_test_accuracy": found_acc,
                     "random_test_accuracies": random_accs, "random_mean": float(np.mean(random_accs)),
                     "random_mflops": [g.mflops(channels, classes) for g in randoms],
                     "found_at_least_random_mean": found_acc >= float(np.mean(random_accs)),
                     "identity_probability": summary["identity_probability"], "search_s": round(search_s, 1)})
        ablation_archs += [(found, found_acc)] + list(zip(randoms, random_accs))

    # --- private vs shared class token: how well each supernet ranks 8 standalone-trained architectures ----------
    archs = ablation_archs[:8]
    space = base.space(channels, classes)
    data = data_lib.load_image_data("mnist_embedded", args.data_dir)
    _, heldout = data.search_split(base.train_portion, base.seed)
    validation = list(data_lib.eval_dataset(data, "train", heldout[: base.eval_examples], 256))
    p = vit.tune_identity_probability(space, args.min_mflops, args.max_mflops, seed=base.seed).probability
    steps = data_lib.steps_for(len(data.search_split(base.train_portion, base.seed)[0]), base.batch_size)
    shared = dataclasses.replace(base, output_dir=os.path.join(args.work_dir, "supernet_shared_token"),
                                 private_class_token=False)
    run_dir = RunDirectory(shared.output_dir)
    train_idx, _ = data.search_split(shared.train_portion, shared.seed)
    shared_net = method.build_supernet(shared, space, p, steps)
    method.train_supernet(shared_net, shared, data, train_idx, run_dir, steps)
    private_net = supernet_from(base, space, p, steps)
    standalone = [acc for _, acc in archs]
    ranking = {}
    for name, net in (("private", private_net), ("shared", shared_net)):
        scores = [net.path_accuracy(space.path(space.arch(g)), validation) for g, _ in archs]
        ranking[name] = {"supernet_accuracies": scores, "kendall_tau": kendall_tau(scores, standalone)}
    print(json.dumps({"runs": runs, "ablation": {"architectures": [str(g) for g, _ in archs],
                                                 "standalone_test_accuracies": standalone, **ranking},
                      "window_mflops": [args.min_mflops, args.max_mflops], "supernet_epochs": args.epochs,
                      "train_epochs": args.train_epochs, "population": args.population,
                      "generations": args.generations, "wall_s": round(time.time() - started, 1),
                      "device": device_identity(), "load_average": os.getloadavg()}))


if __name__ == "__main__":
    main()
