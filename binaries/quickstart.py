"""The main job: Single-DARTS on the NAS-Bench-201 cell space over the embedded MNIST subset,
then train the found cell, export it to TFLite, measure its latency with LiteRT, and summarise.

  python -m binaries.quickstart --output_dir=runs/quickstart

Every stage writes under --output_dir (search/, train/, model.tflite, latency.json,
summary.json) and resumes when re-run; the summary prints the genotype, test accuracy,
parameters, TFLite size, measured latency and the TensorBoard log directory.
"""
import tfnas  # noqa: F401  (selects Keras 2 before TensorFlow is imported)

import flags as flags_help

import json
import os
import time

from absl import app
from absl import flags as absl_flags

import flags.common as common
import flags.quickstart as qs
from tfnas.errors import exit_on_user_error
from tfnas.logs import quiet_tensorflow_logs

absl_flags.FLAGS.set_default("output_dir", "runs/quickstart")
absl_flags.FLAGS.set_default("epochs", 10)

flags_help.show_in_help()


def _nasbench201_lookup(arch: str) -> dict | None:
    """CIFAR/ImageNet16 accuracies of the found cell in the NAS-Bench-201 table, when the table is there."""
    from tfnas.benchmarks.nasbench201 import BenchmarkError, NasBench201Table

    try:
        table = NasBench201Table.load(qs.BENCHMARK_FILE.value)
    except BenchmarkError:
        return None
    row = table.lookup(arch)
    return {"index": row["index"], "cifar10_test_acc": row["cifar10_test_acc"],
            "cifar100_test_acc": row["cifar100_test_acc"], "imagenet16_120_test_acc": row["imagenet16_120_test_acc"],
            "table": table.path}


STEPS = 4


def _banner(step: int, text: str) -> None:
    print(f"\n[{step}/{STEPS}] {text}", flush=True)


def _settings() -> dict:
    """The flags that decide the main job's result (a re-run with the same ones reports the stored result)."""
    names = ("dataset", "data_dir", "image_size", "seed", "batch_size", "steps_per_epoch", "mixed_precision",
             "search_epochs", "search_final_temperature", "search_train_portion", "search_layers", "train_epochs",
             "train_layers", "channels", "latency_threads")
    return {name: absl_flags.FLAGS[name].value for name in names}


def _stored_summary(out: str, settings: dict) -> dict | None:
    """The finished run's summary.json when it was made with these settings (and not --fresh)."""
    path = os.path.join(out, "summary.json")
    if common.FRESH.value or not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            stored = json.load(f)
    except ValueError:
        return None
    if stored.get("settings") != settings:
        return None
    print(f"The main job already finished in {out} with these settings; its stored result follows "
          "(--fresh starts over).")
    return stored


def run() -> dict:
    from tfnas.configs.differentiable import SearchConfig
    from tfnas.configs.train import TrainConfig

    out = os.path.abspath(common.OUTPUT_DIR.value)
    started = time.time()
    search_config = SearchConfig(
        output_dir=os.path.join(out, "search"), method="single_darts", space="nasbench201",
        dataset=common.DATASET.value, data_dir=common.DATA_DIR.value, image_size=common.IMAGE_SIZE.value,
        seed=common.SEED.value, batch_size=common.BATCH_SIZE.value, epochs=qs.SEARCH_EPOCHS.value,
        steps_per_epoch=common.STEPS_PER_EPOCH.value, layers=qs.SEARCH_LAYERS.value,
        init_channels=qs.CHANNELS.value, train_portion=qs.SEARCH_TRAIN_PORTION.value,
        temperature_schedule="constant" if qs.SEARCH_FINAL_TEMPERATURE.value == 1.0 else "exponential",
        final_temperature=qs.SEARCH_FINAL_TEMPERATURE.value, fresh=common.FRESH.value, verbose=common.VERBOSE.value,
        mixed_precision=common.MIXED_PRECISION.value)
    search_config.validate()  # before TensorFlow is imported: a bad flag fails in about a second
    settings = _settings()
    stored = _stored_summary(out, settings)
    if stored is not None:
        return stored
    from tfnas.hardware.trained_export import export_model_dir
    from tfnas.hardware.litert import measure_latency
    from tfnas.methods.differentiable_search import run_differentiable_search
    from tfnas.files import write_json
    from tfnas.training.trainer import train_genotype

    _banner(1, f"search: Single-DARTS over NAS-Bench-201 cells, {qs.SEARCH_EPOCHS.value} epochs on {common.DATASET.value}")
    search = run_differentiable_search(search_config)
    _banner(2, f"train: the found cell {search['genotype']['arch']}, {qs.TRAIN_EPOCHS.value} epochs")
    train = train_genotype(TrainConfig(
        output_dir=os.path.join(out, "train"), genotype=os.path.join(out, "search", "genotype.json"),
        dataset=common.DATASET.value, data_dir=common.DATA_DIR.value, image_size=common.IMAGE_SIZE.value,
        seed=common.SEED.value, batch_size=common.BATCH_SIZE.value, epochs=qs.TRAIN_EPOCHS.value,
        steps_per_epoch=common.STEPS_PER_EPOCH.value, layers=qs.TRAIN_LAYERS.value,
        init_channels=qs.CHANNELS.value, learning_rate=0.05, cutout=0, drop_path=0.0, auxiliary=False,
        fresh=common.FRESH.value, verbose=common.VERBOSE.value, mixed_precision=common.MIXED_PRECISION.value))
    _banner(3, "export: TFLite")
    tflite = export_model_dir(train["model_dir"], "tflite", os.path.join(out, "model.tflite"))
    _banner(4, f"latency: LiteRT, {qs.LATENCY_THREADS.value} thread(s), 200 runs")
    latency = measure_latency(tflite["path"], num_threads=qs.LATENCY_THREADS.value, num_runs=200, warmup_runs=20,
                              method="benchmark_tool").to_json()
    write_json(os.path.join(out, "latency.json"), latency)
    arch = search["genotype"]["arch"]
    decision = search["decision"]["cells"]["cell"]
    summary = {
        "genotype": arch,
        "search": {"method": "single_darts", "space": "nasbench201", "epochs": qs.SEARCH_EPOCHS.value,
                   "supernet_val_accuracy": search["epochs"][-1].get("val_accuracy") if search["epochs"] else None,
                   "val_accuracy_on": search["validation_source"], "train_portion": search["train_portion"],
                   "arch_learning_rate": search["arch_learning_rate"],
                   "final_temperature": qs.SEARCH_FINAL_TEMPERATURE.value, "wall_time_s": search["wall_time_s"],
                   # how decided the search was: mean edge entropy vs uniform, each chosen op's margin
                   "decision": {"mean_entropy": decision["mean_entropy"],
                                "uniform_entropy": search["decision"]["uniform_entropy"],
                                "entropy_ratio": decision["entropy_ratio"], "edges": decision["edges"]}},
        "nasbench201_lookup": _nasbench201_lookup(arch),
        "test_accuracy": train["test_accuracy"],
        "params": train["params"],
        "tflite": {"path": tflite["path"], "size_bytes": tflite["size_bytes"]},
        "latency_ms": {k: latency[k] for k in ("median_ms", "p5_ms", "p95_ms")} | {
            "num_threads": latency["num_threads"], "litert_version": latency["litert_version"],
            "cpu": latency["device"].get("cpu_model")},
        "tensorboard": out,
        "wall_time_s": round(time.time() - started, 1),
        "settings": settings,
    }
    write_json(os.path.join(out, "summary.json"), summary)
    return summary


def summary_table(summary: dict) -> str:
    """The main job's result as a two-column table (summary.json holds every figure for machines)."""
    search, latency = summary["search"], summary["latency_ms"]
    decision = search["decision"]
    weakest = min(decision["edges"], key=lambda e: e["margin"])
    val = search["supernet_val_accuracy"]
    rows = [
        ("found cell", summary["genotype"]),
        ("search", f"Single-DARTS, {search['epochs']} epochs, {search['wall_time_s']:.0f} s; supernet accuracy "
                   + (f"{val:.3f}" if val is not None else "-") + f" ({search['val_accuracy_on']})"),
        ("decided", f"mean edge entropy {decision['entropy_ratio']:.2f} x uniform; weakest edge {weakest['edge']}: "
                    f"{weakest['op']} {weakest['weight']:.2f} vs {weakest['runner_up']} {weakest['weight'] - weakest['margin']:.2f}"),
    ]
    lookup = summary.get("nasbench201_lookup")
    if lookup:
        rows.append(("NAS-Bench-201", f"CIFAR-10 {lookup['cifar10_test_acc']:.2f}, CIFAR-100 "
                                      f"{lookup['cifar100_test_acc']:.2f}, ImageNet16-120 "
                                      f"{lookup['imagenet16_120_test_acc']:.2f} (test accuracy, table index {lookup['index']})"))
    rows += [
        ("trained network", f"test accuracy {summary['test_accuracy']:.4f}, {summary['params']:,} parameters"),
        ("TFLite", f"{summary['tflite']['path']} ({summary['tflite']['size_bytes'] / 1024:.0f} KiB)"),
        ("latency (LiteRT)", f"median {latency['median_ms']:.3f} ms (p5 {latency['p5_ms']:.3f}, p95 "
                             f"{latency['p95_ms']:.3f}), {latency['num_threads']} thread(s), {latency['cpu']}"),
        ("total time", f"{summary['wall_time_s']:.0f} s"),
        ("summary.json", os.path.join(summary["tensorboard"], "summary.json")),
        ("TensorBoard", f".venv/bin/tensorboard --logdir {summary['tensorboard']}"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n=== tfnas main job: done ===\n" + "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    quiet_tensorflow_logs()
    with exit_on_user_error():
        summary = run()
    print(summary_table(summary))


if __name__ == "__main__":
    app.run(main)
