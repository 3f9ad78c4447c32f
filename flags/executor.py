"""Flags of the binaries that evaluate candidates one by one: where the evaluations run.

``--executor=inprocess`` (the default) evaluates one candidate at a time in the binary's own
process. ``--executor=ray`` runs ``--num_workers`` evaluations at once on Ray workers: a local
Ray cluster the binary starts (and stops), or an existing one given by ``--ray_address``. Each
worker reserves ``--cpus_per_worker`` CPUs (also its TensorFlow thread count) and
``--gpus_per_worker`` GPUs, and is retried up to ``--ray_max_retries`` times if it dies.
The number of workers does not change a batch-synchronous search's result, so a run may resume
with other executor settings.
"""
from __future__ import annotations

from absl import flags

EXECUTOR = flags.DEFINE_enum(
    "executor", "inprocess", ["inprocess", "ray"],
    "Where candidates are evaluated: inprocess (one at a time, in this process) or ray (--num_workers at once on "
    "Ray workers).")
NUM_WORKERS = flags.DEFINE_integer(
    "num_workers", None, "--executor=ray: evaluations run at once, one per Ray worker (default 2).", lower_bound=1)
RAY_ADDRESS = flags.DEFINE_string(
    "ray_address", None, "--executor=ray: a running Ray cluster to join ('auto', or host:port of `ray start --head`). "
                         "Unset: start a local cluster for this run.")
CPUS_PER_WORKER = flags.DEFINE_float(
    "cpus_per_worker", None, "--executor=ray: Ray CPUs each worker reserves, also its TensorFlow thread count "
                             "(default 1).", lower_bound=0)
GPUS_PER_WORKER = flags.DEFINE_float(
    "gpus_per_worker", None, "--executor=ray: GPUs each worker reserves (default 0: workers see no GPU; 1: each its "
                             "own; a fraction shares one).", lower_bound=0)
RAY_MAX_RETRIES = flags.DEFINE_integer(
    "ray_max_retries", None, "--executor=ray: how often a worker that died mid-candidate is restarted and the "
                             "candidate retried (default 3).", lower_bound=0)

RAY_ONLY = ("num_workers", "ray_address", "cpus_per_worker", "gpus_per_worker", "ray_max_retries")
"""Flags that mean something only with --executor=ray."""
