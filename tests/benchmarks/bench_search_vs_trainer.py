"""Benchmark: our Optuna search against Hugging Face ``Trainer.hyperparameter_search`` on one split.

    python tests/benchmarks/bench_search_vs_trainer.py [--seeds 0 1 2] [--trials 6]

The setting of the hardening issue: MiniLM-L3, 1,000 train / 300 val rows of Rotten Tomatoes split by
movie (one CSV with a split column, read by both tools), 6 TPE trials over lr log-uniform [1e-5, 3e-4]
and warmup [0, 0.2], one epoch, batch 32, fp32 on both sides. Per sampler seed, interleaved
(Trainer, ours, ours with the old pruner defaults): the wall time of the whole search, the best
validation accuracy it found, and how many trials were pruned. Not a test: nothing asserts a number.

Fair to the Trainer: its warmup is searched as a float ``warmup_steps`` (< 1 means a ratio); a
searched ``warmup_ratio`` would be cast to the int type of ``warmup_steps`` and stay 0 in transformers 5.
Our best value is the best of the trial's 4 validations (the weights it keeps and tests); the Trainer's
is its one validation at the end. The table also gives our best trial's last validation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"lr": (1e-5, 3e-4), "warmup": (0.0, 0.2)}
OLD_PRUNER = ["+search.pruner_options.n_startup_trials=2", "+search.pruner_options.n_warmup_steps=0"]


def make_split(folder: Path, train: int = 1000, val: int = 300, test: int = 300) -> Path:
    """1,000 / 300 / 300 rows by movie (by default), written once: both tools read the same rows."""
    import pandas as pd

    from sweep.data.tasks import load_splits
    from sweep.pipeline.validate import validate
    from tests.benchmarks.bench_data_path import compose

    task = validate(compose(f"task.train_size={train}", f"task.val_size={val}", f"task.test_size={test}")).root.task
    splits = load_splits(task)
    frames = [
        pd.DataFrame({"text": part.inputs, "label": [splits.label_names[i] for i in part.labels], "split": name})
        for name, part in (("train", splits.train), ("val", splits.val), ("test", splits.test))
    ]
    path = folder / "split.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def trainer_search(csv: Path, cache: Path, seed: int, trials: int) -> dict:
    """Trainer.hyperparameter_search on the split. Each trial is evaluated on val (the objective) and on
    test at its end, so the best trial's test accuracy is known without training it again."""
    import numpy as np
    import optuna
    import pandas as pd
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

    from sweep.zoo.loader import resolve_source

    path = resolve_source("asset:minilm_l3", "model.source", cache)
    tokenizer = AutoTokenizer.from_pretrained(path)
    frame = pd.read_csv(csv)
    labels = {"rotten": 0, "fresh": 1}

    def rows(split):
        part = frame[frame["split"] == split]
        encoded = tokenizer(part["text"].tolist(), truncation=True, max_length=64)
        return [{"input_ids": ids, "labels": labels[label]} for ids, label in zip(encoded["input_ids"], part["label"])]

    def accuracy(prediction):
        return {"accuracy": float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}

    arguments = TrainingArguments(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=32, per_device_eval_batch_size=128, num_train_epochs=1,
        learning_rate=5e-5, warmup_steps=0.0, weight_decay=0.01, train_sampling_strategy="group_by_length", eval_strategy="epoch",
        save_strategy="no", logging_strategy="no", report_to=[], disable_tqdm=True, seed=42, use_cpu=True,
    )  # fmt: skip
    trials_seen = []  # per trial: (val acc, test acc, optimizer steps)

    def objective(metrics):
        trials_seen.append((metrics["eval_val_accuracy"], metrics["eval_test_accuracy"], trainer.state.global_step))
        return metrics["eval_val_accuracy"]

    trainer = Trainer(
        model_init=lambda *_: AutoModelForSequenceClassification.from_pretrained(path, num_labels=2),
        args=arguments, train_dataset=rows("train"), eval_dataset={"val": rows("val"), "test": rows("test")},
        data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=accuracy,
    )  # fmt: skip

    def space(trial):
        return {
            "learning_rate": trial.suggest_float("learning_rate", *SPACE["lr"], log=True),
            "warmup_steps": trial.suggest_float("warmup_steps", *SPACE["warmup"]),  # float < 1: a ratio
        }

    start = time.perf_counter()
    best = trainer.hyperparameter_search(
        hp_space=space, backend="optuna", n_trials=trials, direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        compute_objective=objective,
    )  # fmt: skip
    wall = time.perf_counter() - start
    best_trial = max(trials_seen, key=lambda seen: seen[0])  # the first of equals, as Optuna's best_trial
    return {
        "tool": "HF Trainer.hyperparameter_search",
        "seed": seed,
        "wall_s": wall,
        "best": best.objective,
        "pruned": 0,
        "last": best.objective,
        "test": best_trial[1],
        "steps": sum(seen[2] for seen in trials_seen),
        "trials": len(trials_seen),
        "train_rows": len(trainer.train_dataset),
    }


def sweep_search(csv: Path, cache: Path, seed: int, trials: int, extra: list[str], name: str, workdir: Path | None = None) -> dict:
    """``python -m sweep.run -m search=optuna`` on the split, in ``workdir`` (default: a new temporary folder);
    the best trial's test accuracy and every trial's optimizer steps are read from its MLflow store."""
    import optuna

    from tests.benchmarks.common import runs

    workdir = workdir or Path(tempfile.mkdtemp(prefix="sweep-bench-search-"))
    command = [
        sys.executable, "-m", "sweep.run", "-m", "search=optuna", "model=minilm_l3", "task=csv", f"task.path={csv}",
        "task.split_column=split", "task.max_length=64", "trainer.max_epochs=1", "trainer.precision=32-true",
        f"search.n_trials={trials}", f"search.seed={seed}", "search.sampler=tpe",
        f"search.space.optim.lr=tag(log, interval({SPACE['lr'][0]}, {SPACE['lr'][1]}))",
        f"search.space.optim.warmup_ratio=interval({SPACE['warmup'][0]}, {SPACE['warmup'][1]})", f"paths.cache_dir={cache}", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the checkout this file lives in
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    (db,) = (workdir / "outputs" / "optuna").glob("*.db")
    storage = f"sqlite:///{db}"
    (study_name,) = optuna.get_all_study_names(storage)
    study = optuna.load_study(study_name=study_name, storage=storage)
    pruned = sum(1 for t in study.trials if t.state == optuna.trial.TrialState.PRUNED)
    best = study.best_trial
    last = best.intermediate_values[max(best.intermediate_values)]
    jobs = {run.info.run_id: run for run in runs(workdir) if "mlflow.parentRunId" in run.data.tags}
    return {
        "tool": name,
        "seed": seed,
        "wall_s": wall,
        "best": best.value,
        "pruned": pruned,
        "last": last,
        "test": jobs[best.user_attrs["mlflow_run_id"]].data.metrics["test/acc"],
        "steps": int(sum(run.data.metrics.get("optimizer_steps", 0) for run in jobs.values())),
        "trials": len(jobs),
        "train_rows": int(max(run.data.metrics.get("data_train_rows", 0) for run in jobs.values())),
        "token_cache_hits": int(sum(run.data.metrics.get("prepare_token_cache_hits", 0) for run in jobs.values())),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--cache", default=None)
    args = parser.parse_args()

    from sweep.runtime.console import quiet_libraries
    from sweep.runtime.hardware import describe

    quiet_libraries()
    folder = Path(tempfile.mkdtemp(prefix="sweep-bench-split-"))
    cache = Path(args.cache) if args.cache else folder / "cache"
    csv = make_split(folder)
    rows = []
    for seed in args.seeds:  # interleaved: a noisy machine slows every tool alike
        rows.append(trainer_search(csv, cache, seed, args.trials))
        print(rows[-1], flush=True)
        rows.append(sweep_search(csv, cache, seed, args.trials, [], "sweep (new pruner defaults)"))
        print(rows[-1], flush=True)
        rows.append(sweep_search(csv, cache, seed, args.trials, OLD_PRUNER, "sweep (old: startup 2, warmup 0)"))
        print(rows[-1], flush=True)

    print(f"\n{describe()}")
    print(f"MiniLM-L3, 1,000 train / 300 val rows by movie, {args.trials} TPE trials, lr [1e-5, 3e-4] log, warmup [0, 0.2], 1 epoch, fp32")
    print("| tool | seed | wall s | best val acc | best trial's last val acc | its test acc | pruned | optimizer steps |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['tool']} | {r['seed']} | {r['wall_s']:.0f} | {r['best']:.4f} | {r['last']:.4f} | {r['test']:.4f} | {r['pruned']} | "
              f"{r['steps']} |")  # fmt: skip
    for tool in dict.fromkeys(r["tool"] for r in rows):
        mine = [r for r in rows if r["tool"] == tool]
        print(f"| {tool} | median | {statistics.median(r['wall_s'] for r in mine):.0f} | "
              f"{statistics.median(r['best'] for r in mine):.4f} | {statistics.median(r['last'] for r in mine):.4f} | "
              f"{statistics.median(r['test'] for r in mine):.4f} | {sum(r['pruned'] for r in mine)} | "
              f"{statistics.median(r['steps'] for r in mine):.0f} |")  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
