"""Do different device tables give different HURRICANE spaces? Compare the generated top-k per layer.

    python benchmarks/space_generation_devices.py --tables runs/tables/cpu_32px_w025_mnist_t1.json \
        runs/tables/cpu_32px_w025_mnist_t2.json --top_k=4

Prints each layer's candidates per table and, last, one JSON object: layers whose candidate sets
differ, and per table the fastest predicted architecture of its space.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tfnas  # noqa: E402,F401

from tfnas.hardware import latency_table, space_generation  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", required=True)
    parser.add_argument("--top_k", type=int, default=4)
    args = parser.parse_args()
    tables = [latency_table.LatencyTable.load(p) for p in args.tables]
    for t in tables[1:]:
        t.check_geometry(tables[0].config)
    spaces = [space_generation.generate_space(t, args.top_k) for t in tables]
    differing = []
    for i in range(len(spaces[0].candidates)):
        sets = [set(s.candidates[i]) for s in spaces]
        mark = "" if all(x == sets[0] for x in sets) else "  <- differs"
        if mark:
            differing.append(i)
        print(f"layer {i:2d}: " + " | ".join(", ".join(s.candidates[i]) for s in spaces) + mark)
    result = {"layers_differing": len(differing), "differing_layers": differing, "top_k": args.top_k,
              "tables": [{"path": p, "num_threads": t.num_threads, "device": t.device.get("cpu_model"),
                          "fastest_ms": t.fastest(s.candidates)[0]} for p, t, s in zip(args.tables, tables, spaces)]}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
