"""Benchmark: SmolLM2-135M (the packaged GGUF, converted once) on Rotten Tomatoes, per strategy.

    python tests/benchmarks/bench_smollm2.py [--train 500 --val 200 --test 200] [--full-steps 3]

One CLI job per strategy (``python -m sweep.run``), each with the strategy's own defaults: prompt (20
virtual tokens), lora (PEFT's default targets for llama: q_proj, v_proj), feature (a head on cached
last-token features, 10 epochs), partial (26 of 30 blocks frozen), 1 epoch otherwise,
``trainer.precision=auto``. Full fine-tuning runs only ``--full-steps`` steps: enough to compare its cost
estimate (``estimate.*``, logged before training) with the measured time, and to extrapolate an epoch.
Reads the results from MLflow and prints a markdown table. Not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STRATEGIES = {
    "prompt": [],
    "lora": [],
    "feature": [],
    "partial": ["strategy.freeze_depth=26"],
}


def run(workdir: Path, args, strategy: str, extra: list[str]) -> None:
    command = [
        sys.executable, "-m", "sweep.run", "model=smollm2_135m", f"strategy={strategy}", f"task.train_size={args.train}",
        f"task.val_size={args.val}", f"task.test_size={args.test}", f"paths.cache_dir={args.cache}", *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{strategy}: {result.stderr[-3000:]}")
    estimate = next((line for line in (result.stdout + result.stderr).splitlines() if "estimate:" in line), "(no estimate line)")
    print(f"{strategy}: {time.perf_counter() - start:.0f} s wall; {estimate.split('[INFO] ')[-1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=500)
    parser.add_argument("--val", type=int, default=200)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--full-steps", type=int, default=3)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "sweep-bench-cache"))
    args = parser.parse_args()

    from mlflow.tracking import MlflowClient

    from sweep.runtime.hardware import describe

    workdir = Path(tempfile.mkdtemp(prefix="sweep-bench-smollm2-"))
    for strategy in args.strategies:
        run(workdir, args, strategy, STRATEGIES[strategy])
    run(workdir, args, "full", [f"trainer.max_steps={args.full_steps}"])

    client = MlflowClient(f"sqlite:///{workdir / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep")
    runs = {r.data.tags["strategy"]: r for r in client.search_runs([experiment.experiment_id], "tags.state = 'finished'")}

    print(f"\n{describe()}")
    print(f"SmolLM2-135M-Instruct on Rotten Tomatoes, {args.train} train / {args.val} val / {args.test} test rows, batch 32")
    print("| strategy | trainable params | epochs | val acc | test acc | s / epoch | prepare s (model + features) | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for strategy in args.strategies:
        m, p = runs[strategy].data.metrics, runs[strategy].data.params
        epochs = int(p.get("trainer.max_epochs", 1))
        prepare = m.get("prepare_load_model_s", 0.0) + m.get("prepare_features_s", 0.0)
        trainable = f"{int(m['params_trainable']):,} ({100 * m['params_trainable_share']:.2f}%)"
        accuracy = f"{m['best_val/acc']:.3f} | {m['test/acc']:.3f}"
        costs = f"{m['train_time_s'] / epochs:.1f} | {prepare:.1f} | {m['peak_memory_mb']:.0f}"
        print(f"| {strategy} | {trainable} | {epochs} | {accuracy} | {costs} |")

    full = runs["full"].data.metrics
    steps_per_epoch = -(-args.train // 32)
    print(f"\nfull fine-tuning, {int(full['optimizer_steps'])} steps measured (then stopped):")
    print("| estimate s (logged before) | measured s (with validation) | measured / estimate | est. s / step | est. s / epoch | s / step |")
    print("|---|---|---|---|---|---|")
    per_step = full["train_time_s"] / max(full["optimizer_steps"], 1)
    print(
        f"| {full['estimate.fit_seconds']:.1f} | {full['train_time_s']:.1f} | {full['estimate.measured_over_estimated']:.1f} | "
        f"{full['estimate.full_step_seconds']:.2f} | {full['estimate.full_step_seconds'] * steps_per_epoch:.0f} | {per_step:.1f} |"
    )
    print(f"peak RSS of the full run: {full['peak_memory_mb']:.0f} MB; mlflow ui --backend-store-uri sqlite:///{workdir}/outputs/mlflow.db")


if __name__ == "__main__":
    main()
