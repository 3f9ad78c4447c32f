"""Time the DARTS authors' first-order search step (PyTorch), for compare_darts_reference.py.

Runs under a separate Python that has torch (never tfnas' venv) and imports the authors' own
``model_search.Network`` and ``architect.Architect`` from ``--reference_dir`` (their ``cnn/``
folder, not part of tfnas). The step is the body of their ``train_search.train`` loop with
``unrolled=False``: one architecture update (Adam on a validation batch), then one weight
update (SGD with momentum, gradient clipped to norm 5). Inputs are random tensors of CIFAR-10's
shape, as in benchmarks/supernet_step.py.

Their code targets PyTorch 0.3/0.4 and CUDA. This driver only shims, at run time:
- ``torch.Tensor.cuda`` and ``torch.nn.Module.cuda`` return the object unchanged (CPU-only
  torch raises on them; ``Network._initialize_alphas`` calls ``.cuda()`` on the alphas);
- their ``train_search.py`` is not imported (it parses arguments and exits without a GPU at
  import, and uses ``.data[0]``, ``cuda(async=True)`` and ``clip_grad_norm``, which current
  torch rejects); its loop body is written out here with ``clip_grad_norm_``, and the metrics
  it logs (``utils.accuracy``) are skipped.
``torch.autograd.Variable`` still exists (a no-op wrapper), so model_search and architect import
as they are.

Last stdout line: one JSON object (s_per_step, step_times_s, peak_rss_mib, first_step_s from
process start, first_call_s, torch version and threads).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import types


def process_start_time() -> float:
    """Wall-clock time this process started (as psutil computes it on Linux)."""
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat") as f:
        boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
    return boot + start_ticks / os.sysconf("SC_CLK_TCK")


PROCESS_START = process_start_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference_dir", required=True, help="the DARTS authors' cnn/ folder")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--init_channels", type=int, default=16)
    parser.add_argument("--image_size", type=int, default=32)
    args = parser.parse_args()

    import torch
    import torch.nn as nn

    torch.Tensor.cuda = lambda self, *a, **k: self  # shim: CPU-only torch
    nn.Module.cuda = lambda self, *a, **k: self
    sys.path.insert(0, os.path.abspath(args.reference_dir))
    from architect import Architect  # the authors' modules
    from model_search import Network

    torch.manual_seed(0)
    criterion = nn.CrossEntropyLoss()
    model = Network(args.init_channels, 10, args.layers, criterion)
    # train_search.py's defaults
    hparams = types.SimpleNamespace(momentum=0.9, weight_decay=3e-4, arch_learning_rate=3e-4,
                                    arch_weight_decay=1e-3)
    optimizer = torch.optim.SGD(model.parameters(), 0.025, momentum=hparams.momentum,
                                weight_decay=hparams.weight_decay)
    architect = Architect(model, hparams)
    b, s = args.batch_size, args.image_size
    x = torch.randn(b, 3, s, s)
    y = torch.randint(0, 10, (b,))
    x_val, y_val = torch.randn(b, 3, s, s), torch.randint(0, 10, (b,))

    def step() -> float:
        model.train()
        architect.step(x, y, x_val, y_val, 0.025, optimizer, unrolled=False)
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        return float(loss.item())

    t0 = time.time()
    step()
    first_step_s = time.time() - PROCESS_START
    first_call_s = time.time() - t0
    times = []
    for _ in range(args.steps):
        t0 = time.time()
        step()
        times.append(time.time() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({
        "s_per_step": round(sum(times) / len(times), 2), "step_times_s": [round(t, 2) for t in times],
        "peak_rss_mib": round(peak, 1), "first_step_s": round(first_step_s, 1),
        "first_call_s": round(first_call_s, 1),
        "config": {"layers": args.layers, "init_channels": args.init_channels, "batch_size": b, "image_size": s,
                   "params": sum(p.numel() for p in model.parameters()), "torch": torch.__version__,
                   "torch_threads": torch.get_num_threads()},
    }))


if __name__ == "__main__":
    main()
