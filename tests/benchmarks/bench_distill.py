"""Benchmark: a MiniLM-L3 student alone vs distilled from a fine-tuned MiniLM-L6 teacher.

    python tests/benchmarks/bench_distill.py [--seeds 0 1 2] [--epochs 3]

Through the real CLI: first the teacher (``model=minilm_l6 strategy=full``; its run keeps its model),
then one grid ``-m model=minilm_l3 strategy=full,distill seed=...`` with ``distill.teacher`` the
teacher's ``runs:/<id>/model``: the same data, epochs and seeds for both, only the loss differs.
Reports the teacher's test accuracy, mean ± sd of the students', the share of the teacher's accuracy
each keeps, and what the teacher costs (its logits, computed once, then read from the cache).
Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def cli(workdir: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "sweep.run", *args], cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "sweep-bench-cache"))
    args = parser.parse_args()

    from mlflow.tracking import MlflowClient

    from sweep.runtime.hardware import describe

    workdir = Path(tempfile.mkdtemp(prefix="sweep-bench-distill-"))
    common = [f"trainer.max_epochs={args.epochs}", f"paths.cache_dir={args.cache}"]
    cli(workdir, "model=minilm_l6", "strategy=full", "tracking.run_name=teacher", *common)
    client = MlflowClient(f"sqlite:///{workdir / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep")
    (teacher,) = client.search_runs([experiment.experiment_id], "attributes.run_name = 'teacher'")

    teacher_uri = f"runs:/{teacher.info.run_id}/model"
    seeds = ",".join(map(str, args.seeds))
    students = ["-m", "model=minilm_l3", "strategy=full,distill", f"seed={seeds}", f"distill.teacher={teacher_uri}"]
    cli(workdir, *students, f"distill.alpha={args.alpha}", f"distill.temperature={args.temperature}", *common)

    runs = client.search_runs([experiment.experiment_id], "tags.model = 'minilm_l3' and tags.state = 'finished'", max_results=100)
    teacher_acc = teacher.data.metrics["test/acc"]
    print(describe())
    print(
        f"Rotten Tomatoes 2,000 / 500 / 500, {args.epochs} epochs each; teacher minilm_l6 full (seed 42);"
        f" students minilm_l3, seeds {args.seeds}; alpha {args.alpha}, temperature {args.temperature}"
    )
    print("| model | test acc (mean ± sd) | share of the teacher's | train s |")
    print("|---|---|---|---|")
    print(f"| teacher minilm_l6 full | {teacher_acc:.4f} | 1.000 | {teacher.data.metrics['train_time_s']:.1f} |")
    for strategy, label in (("full", "student alone (full)"), ("distill", "student distilled")):
        metrics = [run.data.metrics for run in runs if run.data.tags["strategy"] == strategy]
        accs = [m["test/acc"] for m in metrics]
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        train_s = statistics.mean(m["train_time_s"] for m in metrics)
        print(f"| {label} | {statistics.mean(accs):.4f} ± {sd:.4f} | {statistics.mean(accs) / teacher_acc:.3f} | {train_s:.1f} |")
    distilled = [run.data.metrics for run in runs if run.data.tags["strategy"] == "distill"]
    first = max(distilled, key=lambda m: m.get("prepare_teacher_forward_batches", 0))
    print(
        f"teacher logits: {first.get('prepare_teacher_s', 0):.1f} s the first time ({first.get('prepare_teacher_forward_batches', 0):.0f}"
        f" forward batches), then {min(m.get('prepare_teacher_s', 0) for m in distilled):.2f} s from the cache"
    )


if __name__ == "__main__":
    main()
