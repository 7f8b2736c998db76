"""Benchmark: what pruning saves. The same Optuna search on a real packaged model, run twice through
the real CLI, once with the median pruner and once with ``search.pruner=none``.

    python tests/benchmarks/bench_pruning.py [--trials 10] [--model minilm_l3]

Prints optimizer steps, time in trials, wall time and the best value of each. Not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_search(workdir: Path, pruner: str, args: argparse.Namespace) -> dict:
    import optuna

    command = [
        sys.executable,
        "-m",
        "sweep.run",
        "-m",
        "search=optuna",
        f"model={args.model}",
        f"task.train_size={args.train}",
        "task.val_size=200",
        "task.test_size=200",
        "trainer.max_epochs=3",
        "trainer.early_stopping_patience=null",  # isolate pruning from early stopping
        f"search.n_trials={args.trials}",
        f"search.pruner={pruner}",
        "search.seed=0",
        "search.space.optim.lr=tag(log, interval(1e-6, 3e-3))",
        f"paths.cache_dir={args.cache}",
    ]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"search with pruner={pruner} failed:\n{result.stderr[-3000:]}")
    (db,) = (workdir / "outputs" / "optuna").glob("*.db")
    storage = f"sqlite:///{db}"
    (name,) = optuna.get_all_study_names(storage)
    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.trials
    return {
        "pruner": pruner,
        "complete": sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials),
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in trials),
        "steps": sum(int(t.user_attrs.get("steps", 0)) for t in trials),
        "trial_s": sum(t.duration.total_seconds() for t in trials if t.duration),
        "wall_s": wall,
        "best": study.best_value,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="minilm_l3")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--train", type=int, default=640)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "sweep-bench-cache"))
    args = parser.parse_args()
    rows = []
    for pruner in ("median", "none"):
        with tempfile.TemporaryDirectory(prefix=f"sweep-prune-{pruner}-") as workdir:
            rows.append(run_search(Path(workdir), pruner, args))
            print(rows[-1], flush=True)
    print(f"\n{args.model}, {args.trials} trials, lr log-uniform [1e-6, 3e-3], {args.train} train rows, 3 epochs, 4 validations/epoch")
    print(f"{'pruner':<8} {'complete':>8} {'pruned':>6} {'opt. steps':>10} {'trial s':>8} {'wall s':>7} {'best val/acc':>12}")
    for r in rows:
        counts = f"{r['pruner']:<8} {r['complete']:>8} {r['pruned']:>6} {r['steps']:>10}"
        print(f"{counts} {r['trial_s']:>8.0f} {r['wall_s']:>7.0f} {r['best']:>12.4f}")
    pruned, full = rows
    saved_steps, saved_time = 1 - pruned["steps"] / full["steps"], 1 - pruned["trial_s"] / full["trial_s"]
    print(f"pruning saved {saved_steps:.0%} of optimizer steps and {saved_time:.0%} of trial time")


if __name__ == "__main__":
    main()
