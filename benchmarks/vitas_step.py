"""Seconds per super-transformer step and peak memory: tfnas vs the ViTAS authors' PyTorch super-transformer.

Configuration (both sides the same): 28x28x1 inputs, 10 classes, batch 64; patch sizes {4, 7, 14}
with private patch embedding / class token / position embedding; embed 64, q/k/v width 64, MLP 128,
each x {0.25, 0.5, 0.75, 1.0}; 6 block slots of {1, 2, 4, 8} heads (the reference's code has
exactly four private q/k per slot) or identity. The same list of sub-transformers (identity
probability 0.5, drawn once from the ViT space) is trained by both, one per step: forward (left
slices, or left + right logits summed for BCNet), soft-target cross-entropy with label smoothing
0.1, backward, AdamW (lr 1e-3, wd 0.05). Random inputs; no CutMix on either side (the reference's
needs timm). Each side runs in its own process with 2 threads; ``first_step_s`` is from process
start to the end of the first step, ``s_per_step`` the mean of the ``--steps`` steps after it,
``peak_rss_mib`` the process's peak resident memory; ``*_cpu_s`` are the same in CPU seconds of the
process (all threads), which a machine shared with other jobs distorts far less than wall time.

The reference (github xiusu/ViTAS: core/model/net.py ``Net`` with core/search_space/ops.py) runs
unmodified from a checkout given by ``--reference_repo`` in a virtual environment this script creates
outside the repository (``--reference_venv``, torch==2.13.0 CPU); only its model is used (one
single-process gloo group satisfies its ``dist.get_rank()`` calls; its patch-embedding factory is
re-bound to pass this image size and channel count, which it hard-codes as 224 and 3). Without
``--reference_repo`` only the tfnas side runs.

Usage:
  python benchmarks/vitas_step.py --reference_repo=<checkout of xiusu/ViTAS> [--steps 20]
      [--weight_sharing left|bcnet|both]
Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE, CHANNELS, CLASSES = 28, 1, 10
PATCHES, RATIOS, HEADS, SLOTS = (4, 7, 14), (0.25, 0.5, 0.75, 1.0), (1, 2, 4, 8), 6
EMBED, ATTENTION, MLP = 64, 64, 128
DEFAULT_VENV = os.path.join(os.path.expanduser("~"), ".cache", "tfnas-benchmarks", "vitas-torch-2.13")


def _process_start() -> float:
    with open("/proc/self/stat") as f:
        ticks = float(f.read().split(")")[-1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(step, paths, steps: int, start: float) -> dict:
    """Wall and CPU seconds: CPU time (all threads) is the figure that survives a machine shared with other jobs."""
    step(paths[0])
    first, first_cpu = time.time() - start, _cpu_s()
    times, cpu = [], []
    for path in paths[1: steps + 1]:
        t0, c0 = time.time(), _cpu_s()
        step(path)
        times.append(time.time() - t0)
        cpu.append(_cpu_s() - c0)
    return {"first_step_s": round(first, 1), "first_step_cpu_s": round(first_cpu, 1),
            "s_per_step": round(sum(times) / len(times), 4), "median_s_per_step": round(sorted(times)[len(times) // 2], 4),
            "cpu_s_per_step": round(sum(cpu) / len(cpu), 4), "step_times_s": [round(t, 4) for t in times],
            "peak_rss_mib": round(_peak_rss_mib(), 1)}


# --- the tfnas side ----------------------------------------------------------------------------------------
def tfnas_worker(paths, sharing: str, batch: int, steps: int, start: float) -> dict:
    sys.path.insert(0, ROOT)
    import tfnas  # noqa: F401
    import numpy as np
    import tensorflow as tf

    from tfnas.spaces import vit
    from tfnas.supernets.super_transformer import PathAdamW, SuperTransformer, light_graph_optimization

    tf.config.threading.set_intra_op_parallelism_threads(2)
    space = vit.ViTSpace(benchmark_config(vit), CHANNELS, CLASSES)
    tf.keras.utils.set_random_seed(0)
    supernet = SuperTransformer(space, sharing, label_smoothing=0.1)
    supernet.compile(optimizer=PathAdamW(1e-3, weight_decay=0.05).attach(supernet))
    x = tf.random.normal([batch, IMAGE, IMAGE, CHANNELS])
    y = tf.random.uniform([batch], 0, CLASSES, tf.int32)
    train = tf.function(supernet.train_step)

    def step(path):
        supernet.use_path(np.asarray(path, np.int32))
        train((x, y))["loss"].numpy()

    with light_graph_optimization():
        return _timed(step, paths, steps, start)


def benchmark_config(vit):
    return vit.ViTSpaceConfig("vitas_step", IMAGE, PATCHES, EMBED, RATIOS, SLOTS, HEADS, ATTENTION, RATIOS, MLP, RATIOS)


# --- the reference side (runs in the torch venv: imports nothing of tfnas) ------------------------------------
def reference_worker(paths, sharing: str, batch: int, steps: int, start: float, repo: str) -> dict:
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F

    sys.path.insert(0, repo)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
    dist.init_process_group("gloo", rank=0, world_size=1)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    from core.search_space import ops
    from core.model.net import Net

    # The reference's factory hard-codes 224x224x3 images; re-bind it to this configuration.
    ops.OPS["Patch_init"] = lambda inp, p, at_out, c_search: ops.Patch_init(
        img_size=IMAGE, patch_size=p, in_chans=CHANNELS, embed_dim=at_out)
    cfg = {"backbone": {
        "init_stem": [1, CHANNELS, list(PATCHES), [], EMBED, [], [], True, ["Patch_init"]],
        "Block": [SLOTS, EMBED, list(HEADS), 3 * ATTENTION, EMBED, MLP, EMBED, True, ["Block", "id"]],
        "Norm": [1, EMBED, [], [], [], [], [], "token", ["Norm"]],
        "FC": [1, EMBED, [], [], CLASSES, [], [], False, ["FC"]]},
        "depth": SLOTS, "heads_share": True, "qkv": 2}
    model = Net(cfg)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and not n.endswith(".bias")]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and not n.endswith(".bias"))]
    opt = torch.optim.AdamW([{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": 0.05}],
                            lr=1e-3)
    x = torch.randn(batch, CHANNELS, IMAGE, IMAGE)
    y = torch.randint(0, CLASSES, (batch,))
    targets = F.one_hot(y, CLASSES).float() * 0.9 + 0.1 / CLASSES
    sides = ["left", "right"] if sharing == "bcnet" else [sharing]

    def step(path):
        subnet = reference_subnet(path)
        out = sum(model(x, subnet=list(subnet), side=side) for side in sides)
        loss = torch.sum(-targets * F.log_softmax(out, dim=-1), dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        float(loss)

    result = _timed(step, paths, steps, start)
    result["params"] = int(sum(p.numel() for p in model.parameters()))
    return result


def reference_subnet(path) -> list:
    """Our path as the reference's subnet list: block indices (heads option, 4 = identity), then ratios.

    The reference's forward reads two ratios per *non-identity* block (an identity block consumes
    none), so only those are listed: the reference then computes exactly the same sub-transformer.
    """
    blocks, ratios = [], [RATIOS[path[1]]]
    for i in range(SLOTS):
        heads, attention, mlp = path[2 + 3 * i: 5 + 3 * i]
        blocks.append(4 if heads == 0 else heads - 1)
        if heads:
            ratios += [RATIOS[attention], RATIOS[mlp]]
    return [path[0], *blocks, 0, 0, *ratios]


# --- orchestration ----------------------------------------------------------------------------------------------
def ensure_venv(venv: str) -> str:
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "torch==2.13.0", "numpy"], check=True)
    return python


def _run_worker(python: str, args: list[str]) -> dict:
    proc = subprocess.run([python, os.path.abspath(__file__), *args], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"worker {args[:2]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=["tfnas", "reference"])
    parser.add_argument("--paths")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--weight_sharing", default="both", choices=["left", "bcnet", "both"])
    parser.add_argument("--reference_repo", default=os.environ.get("VITAS_REFERENCE_REPO"))
    parser.add_argument("--reference_venv", default=DEFAULT_VENV)
    args = parser.parse_args()
    if args.worker:
        start = _process_start()
        with open(args.paths) as f:
            paths = json.load(f)
        sharing = args.weight_sharing
        if args.worker == "tfnas":
            result = tfnas_worker(paths, sharing, args.batch_size, args.steps, start)
        else:
            result = reference_worker(paths, sharing, args.batch_size, args.steps, start, args.reference_repo)
        print(json.dumps(result))
        return

    sys.path.insert(0, ROOT)
    import numpy as np

    from tfnas.hardware.litert import device_identity
    from tfnas.spaces import vit

    space = vit.ViTSpace(benchmark_config(vit), CHANNELS, CLASSES)
    paths = space.sample_paths(np.random.default_rng(0), args.steps + 1, 0.5).tolist()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(paths, f)
        paths_file = f.name
    mean_mflops = float(space.path_mflops(np.asarray(paths)).mean())
    sharings = ["left", "bcnet"] if args.weight_sharing == "both" else [args.weight_sharing]
    python = ensure_venv(args.reference_venv) if args.reference_repo else None
    results = {}
    common = ["--paths", paths_file, "--steps", str(args.steps), "--batch_size", str(args.batch_size)]
    for sharing in sharings:
        row = {"tfnas": _run_worker(sys.executable, ["--worker", "tfnas", "--weight_sharing", sharing, *common])}
        if python:
            row["reference"] = _run_worker(python, ["--worker", "reference", "--weight_sharing", sharing,
                                                    "--reference_repo", args.reference_repo, *common])
            for key in ("s_per_step", "median_s_per_step", "cpu_s_per_step"):
                row[f"reference_over_tfnas_{key}"] = round(row["reference"][key] / row["tfnas"][key], 2)
        results[sharing] = row
    os.remove(paths_file)
    print(json.dumps({"results": results, "mean_subnet_mflops": round(mean_mflops, 3), "steps": args.steps,
                      "batch_size": args.batch_size, "device": device_identity(),
                      "load_average": os.getloadavg()}))


if __name__ == "__main__":
    main()
