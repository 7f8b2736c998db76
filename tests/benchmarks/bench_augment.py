"""Benchmark: what token augmentation (``augment=tokens``) costs per epoch, and what it does to accuracy.

    python tests/benchmarks/bench_augment.py [--seeds 0 1 2] [--epochs 3] [--train-size 200]

(a) Cost: one epoch of the training loader (Rotten Tomatoes, 2,000 rows, max_length 64, the MiniLM
    tokenizer, batch 32) without and with augmentation, interleaved, median of several epochs; next to it
    a lower bound for a per-row ``np.random.default_rng((seed, epoch, row))`` draw, and the time of one
    real training epoch (``python -m sweep.run -m model=minilm_l3 augment=none,tokens``).
(b) Effect: ``model=minilm_l3 strategy=full task.train_size=200`` on Rotten Tomatoes (500 val / 500 test
    rows), ``augment=none`` against ``augment=tokens`` for each seed, through the real CLI; mean ± sd of
    the test accuracy (the best validation's weights) over seeds.
Not a test: nothing here asserts a time or an accuracy.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONF = Path(__file__).resolve().parents[2] / "conf"


def compose(*overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides))


def epoch_seconds(loader) -> float:
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def per_row_rng_seconds(split, seed: int, epoch: int) -> float:
    """A lower bound for one default_rng per row: only the generator and 5 uniforms per token, no edits."""
    lengths = split.lengths
    start = time.perf_counter()
    for row in range(len(split)):
        np.random.default_rng((seed, epoch, row)).random((5, int(lengths[row])))
    return time.perf_counter() - start


def loader_cost(cache: str, repeats: int) -> dict:
    from sweep.pipeline.build import build
    from sweep.pipeline.validate import validate
    from sweep.runtime.console import quiet_libraries

    quiet_libraries()
    out_dir = tempfile.mkdtemp(prefix="sweep-bench-augment-")
    loaders = {}
    for name in ("none", "tokens"):
        built = build(validate(compose("model=minilm_l3", f"augment={name}", f"paths.output_dir={out_dir}", f"paths.cache_dir={cache}")))
        loaders[name] = built.loaders["train"]
    split = loaders["none"].dataset.split
    times = {"none": [], "tokens": [], "per-row rng": []}
    for epoch in range(repeats):  # interleaved: the machine's noise falls on both alike
        times["none"].append(epoch_seconds(loaders["none"]))
        times["tokens"].append(epoch_seconds(loaders["tokens"]))
        times["per-row rng"].append(per_row_rng_seconds(split, 0, epoch))
    return {
        "rows": len(split),
        "token_count": int(split.lengths.sum()),
        **{key: statistics.median(values) for key, values in times.items()},
    }


def run_cli(workdir: Path, *overrides: str) -> None:
    command = [sys.executable, "-m", "sweep.run", "-m", *overrides]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])


def child_runs(workdir: Path) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep")
    runs = client.search_runs([experiment.experiment_id], "tags.state = 'finished'", max_results=10000)
    return [run for run in runs if "mlflow.parentRunId" in run.data.tags]


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {sd:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3, help="trainer.max_epochs of the accuracy runs")
    parser.add_argument("--train-size", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7, help="loader epochs timed per variant")
    parser.add_argument("--cost-only", action="store_true", help="only (a), the cost per epoch")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "sweep-bench-cache"))
    args = parser.parse_args()

    from sweep.runtime.hardware import describe

    print(describe(), flush=True)
    cache = f"paths.cache_dir={args.cache}"

    cost = loader_cost(args.cache, args.repeats)
    epoch_dir = Path(tempfile.mkdtemp(prefix="sweep-bench-augment-epoch-"))
    run_cli(epoch_dir, "model=minilm_l3", "augment=none,tokens", "trainer.max_epochs=1", cache)
    train_time = {run.data.params["augment.name"]: run.data.metrics["train_time_s"] for run in child_runs(epoch_dir)}
    print(
        f"\n(a) one epoch of the training loader: Rotten Tomatoes, {cost['rows']:,} rows ({cost['token_count']:,} tokens), max_length 64,"
    )
    print(f"    MiniLM tokenizer, batch 32; median of {args.repeats} epochs")
    print("| | seconds per epoch |")
    print("|---|---|")
    print(f"| loader, augment=none | {cost['none']:.4f} |")
    print(f"| loader, augment=tokens | {cost['tokens']:.4f} |")
    print(f"| augmentation alone (difference) | {cost['tokens'] - cost['none']:.4f} |")
    print(f"| per-row default_rng((seed, epoch, row)), draws only (lower bound) | {cost['per-row rng']:.4f} |")
    for name in ("none", "tokens"):
        print(f"| training epoch, minilm_l3 full, augment={name} (fit incl. 1 validation of 500 rows) | {train_time[name]:.1f} |")
    share = (cost["tokens"] - cost["none"]) / train_time["none"]
    print(f"augmentation = {100 * share:.2f}% of a training epoch")

    if args.cost_only:
        return
    accuracy_dir = Path(tempfile.mkdtemp(prefix="sweep-bench-augment-acc-"))
    seeds = ",".join(map(str, args.seeds))
    run_cli(
        accuracy_dir, "model=minilm_l3", "strategy=full", f"task.train_size={args.train_size}", f"trainer.max_epochs={args.epochs}",
        f"seed={seeds}", "augment=none,tokens", cache,
    )  # fmt: skip
    results: dict[str, list] = {"none": [], "tokens": []}
    for run in child_runs(accuracy_dir):
        results[run.data.params["augment.name"]].append((int(run.data.params["seed"]), run.data.metrics))
    tokens_cfg = compose("augment=tokens").augment
    print(
        f"\n(b) minilm_l3 full, Rotten Tomatoes {args.train_size} train / 500 val / 500 test rows, {args.epochs} epochs, batch 32, "
        f"lr 5e-5; seeds {args.seeds}; augment=tokens: p_mask {tokens_cfg.p_mask}, p_delete {tokens_cfg.p_delete}, "
        f"p_swap {tokens_cfg.p_swap}, p_insert {tokens_cfg.p_insert}"
    )
    print("| augment | test/acc per seed | test/acc mean ± sd | best val/acc mean ± sd | train s (median) |")
    print("|---|---|---|---|---|")
    for name, runs in results.items():
        runs.sort(key=lambda item: item[0])
        per_seed = " / ".join(f"{metrics['test/acc']:.4f}" for _, metrics in runs)
        test = mean_sd([metrics["test/acc"] for _, metrics in runs])
        val = mean_sd([metrics["best_val/acc"] for _, metrics in runs])
        seconds = statistics.median(metrics["train_time_s"] for _, metrics in runs)
        print(f"| {name} | {per_seed} | {test} | {val} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
