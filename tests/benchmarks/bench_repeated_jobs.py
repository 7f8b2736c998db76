"""Benchmark: does memory grow with repeated jobs in one process?

    python tests/benchmarks/bench_repeated_jobs.py [--repeats 4] [--strategies lora full]

One in-process grid (the basic launcher runs every job in the same Python process) of the same job
repeated with different seeds, per strategy. Reports each job's peak RSS (``peak_memory_mb``, sampled
during training) in order: after the first job of a strategy, later ones should stay flat. Before
``sweep/runtime/memory.py`` gave freed heap pages back to the system, they grew by 30 to 100 MB per job.
Not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--strategies", nargs="+", default=["lora", "full"])
    parser.add_argument("--model", default="minilm_l3")
    args = parser.parse_args()

    from mlflow.tracking import MlflowClient

    from sweep.runtime.hardware import describe

    workdir = Path(tempfile.mkdtemp(prefix="sweep-bench-repeated-"))
    seeds = ",".join(str(seed) for seed in range(args.repeats))
    command = [sys.executable, "-m", "sweep.run", "-m", f"model={args.model}", f"strategy={','.join(args.strategies)}", f"seed={seeds}"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])

    client = MlflowClient(f"sqlite:///{workdir / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"], max_results=1000)
    print(describe())
    print(f"{args.model}, Rotten Tomatoes defaults, {args.repeats} jobs per strategy in one process")
    print("| strategy | peak RSS MB, job 1 .. n | last - first |")
    print("|---|---|---|")
    for strategy in args.strategies:
        peaks = [
            run.data.metrics["peak_memory_mb"]
            for run in runs
            if run.data.tags.get("strategy") == strategy and "mlflow.parentRunId" in run.data.tags
        ]
        print(f"| {strategy} | {', '.join(f'{peak:,.0f}' for peak in peaks)} | {peaks[-1] - peaks[0]:+,.0f} |")


if __name__ == "__main__":
    main()
