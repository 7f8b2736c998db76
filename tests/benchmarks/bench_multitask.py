"""Benchmark: multi-task training against single-task, on the task both share.

    python tests/benchmarks/bench_multitask.py [--sizes 500 2000] [--seeds 0 1 2] [--epochs 3]

Through the real CLI, one grid: ``task=rotten_tomatoes`` alone vs ``task=multi`` (rotten_tomatoes +
rotten_subjectivity, one head each, proportional sampling) at each training size (rows per sub-task),
MiniLM-L3 full fine-tuning. Reports the mean ± sd over seeds of the Rotten Tomatoes test accuracy (for
multi-task: ``test/rotten_tomatoes/acc``), the subjectivity test accuracy the multi-task model gets on
the side, and the training time. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model", default="minilm_l3")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "sweep-bench-cache"))
    args = parser.parse_args()

    from mlflow.tracking import MlflowClient

    from sweep.runtime.hardware import describe

    workdir = Path(tempfile.mkdtemp(prefix="sweep-bench-multitask-"))
    command = [
        sys.executable, "-m", "sweep.run", "-m", "task=rotten_tomatoes,multi", f"task.train_size={','.join(map(str, args.sizes))}",
        f"seed={','.join(map(str, args.seeds))}", f"model={args.model}", "strategy=full", f"trainer.max_epochs={args.epochs}",
        f"paths.cache_dir={args.cache}",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])

    client = MlflowClient(f"sqlite:///{workdir / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep")
    cells = defaultdict(list)
    for run in client.search_runs([experiment.experiment_id], "tags.state = 'finished'", max_results=1000):
        if "mlflow.parentRunId" in run.data.tags:
            cells[(run.data.tags["task"], int(run.data.params["task.train_size"]))].append(run.data.metrics)

    def stat(values: list[float]) -> str:
        return f"{statistics.mean(values):.4f} ± {statistics.stdev(values) if len(values) > 1 else 0:.4f}"

    print(describe())
    print(f"{args.model} full, {args.epochs} epochs, Rotten Tomatoes val/test 500/500 per sub-task, seeds {args.seeds}")
    print("| train rows per task | task | RT test acc | subjectivity test acc | train s |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        for task in ("rotten_tomatoes", "multi"):
            runs = cells[(task, size)]
            if not runs:
                continue
            key = "test/rotten_tomatoes/acc" if task == "multi" else "test/acc"
            side = stat([m["test/rotten_subjectivity/acc"] for m in runs]) if task == "multi" else "-"
            train_s = statistics.mean(m["train_time_s"] for m in runs)
            print(f"| {size} | {task} | {stat([m[key] for m in runs])} | {side} | {train_s:.1f} |")


if __name__ == "__main__":
    main()
