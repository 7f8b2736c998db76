"""Benchmark: fp32 against bf16 autocast, the whole training path (``python -m sweep.run``).

    python tests/benchmarks/bench_precision.py [--seeds 0 1 2] [--models minilm_l3 minilm_l6]

One grid per seed through the real CLI: models x strategies (full, partial, lora) x precision, the
precision varying fastest, so fp32 and bf16 runs of one setting follow each other (A B A B) on this
noisy machine. Default task: Rotten Tomatoes, 2,000 train / 500 val / 500 test rows, 1 epoch, batch 32,
gradient clipping on. Reports, per model and strategy, the median epoch time of each precision and
their ratio, and the mean val and test accuracy over seeds with the bf16 - fp32 difference in points:
``trainer.precision=auto`` chooses bf16 only where it holds accuracy. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path


def run_grid(workdir: Path, seed: int, args) -> None:
    command = [
        sys.executable, "-m", "sweep.run", "-m", f"model={','.join(args.models)}", "strategy=full,partial,lora",
        f"seed={seed}", "trainer.precision=32-true,bf16-mixed", f"paths.cache_dir={args.cache}",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=["minilm_l3", "minilm_l6"])
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "sweep-bench-cache"))
    args = parser.parse_args()

    from mlflow.tracking import MlflowClient

    from sweep.runtime.hardware import describe

    workdir = Path(tempfile.mkdtemp(prefix="sweep-bench-precision-"))
    for seed in args.seeds:
        run_grid(workdir, seed, args)
        print(f"seed {seed} done", flush=True)
    client = MlflowClient(f"sqlite:///{workdir / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep")
    cells = defaultdict(list)
    for run in client.search_runs([experiment.experiment_id], "tags.state = 'finished'", max_results=10000):
        if "mlflow.parentRunId" not in run.data.tags:
            continue
        tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
        cells[(tags["model"], tags["strategy"], params["trainer.precision"])].append(metrics)

    print(f"\n{describe()}")
    print(f"Rotten Tomatoes 2,000 train / 500 val / 500 test, 1 epoch, batch 32, clipping 1.0; seeds {args.seeds}")
    print("| model | strategy | fp32 s/epoch | bf16 s/epoch | bf16/fp32 | fp32 val / test acc | bf16 val / test acc | test diff (points) |")
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models:
        for strategy in ("full", "partial", "lora"):
            fp32, bf16 = cells[(model, strategy, "32-true")], cells[(model, strategy, "bf16-mixed")]
            if not fp32 or not bf16:
                continue

            def median_time(runs):
                return statistics.median(m["train_time_s"] for m in runs)

            def mean(runs, key):
                return statistics.mean(m[key] for m in runs)

            diff = 100 * (mean(bf16, "test/acc") - mean(fp32, "test/acc"))
            times = f"{median_time(fp32):.1f} | {median_time(bf16):.1f} | {median_time(bf16) / median_time(fp32):.2f}"
            fp32_acc = f"{mean(fp32, 'best_val/acc'):.4f} / {mean(fp32, 'test/acc'):.4f}"
            bf16_acc = f"{mean(bf16, 'best_val/acc'):.4f} / {mean(bf16, 'test/acc'):.4f}"
            print(f"| {model} | {strategy} | {times} | {fp32_acc} | {bf16_acc} | {diff:+.2f} |")


if __name__ == "__main__":
    main()
