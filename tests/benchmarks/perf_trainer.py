"""Benchmark ``trial_vs_trainer`` (issue 10, item 1): a whole ``python -m sweep.run`` job against Hugging Face
``Trainer`` on the same work.

Both sides: MiniLM-L3, the same Rotten Tomatoes rows split by movie (one CSV both read; full 2,000 / 500 /
500, quick 128 / 64 / 64), batch 32, one epoch, max length 64, lr 5e-5 with 10% warmup and linear decay,
clipping 1.0, fused AdamW, length-grouped batches, the same validation schedule (sweep validates per
``trainer.val_check_interval``; the Trainer every ``eval_steps``), each its own process. First fp32
(``trainer.precision=32-true`` / the Trainer's default), then, where the CPU multiplies bf16 natively,
``trainer.precision=auto`` against the Trainer with ``bf16=True`` (quick: sweep's bf16 job alone, against the
fp32 Trainer). Trainer first, then sweep, per pair. The bf16 goal is held against the Trainer in fp32, the
tool's default; sweep bf16 / Trainer bf16 is reported beside it.

Training loop: sweep's ``train_time_s`` (its fit, validations included) from the MLflow run; the Trainer's
``train()`` timed in its script (trainer_job.py). Whole process: each side's subprocess, start to exit
(sweep's includes its tracking, the test and keeping the model; the Trainer's its test). Accuracy: test
accuracy after the epoch (one validation per epoch by default, so both test the last weights).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.suite import Figure, Settings, benchmark, interleaved, same_work
from tests.benchmarks.sweep_jobs import MODEL, client, make_store, model_folder, newest_run, shared_cache, timed_cli

VAL_CHECK = 1.0  # trainer.val_check_interval: sweep's default for a single job, one validation per epoch
MAX_LENGTH = 64


@dataclass
class Side:
    loop_s: float  # training loop with its validations
    process_s: float  # the whole process, start to exit
    steps: int  # optimizer steps
    rows: list[int]  # train, val, test
    validations: int
    params: int  # parameters of the trained model (the Trainer's less its CLS pooler, which sweep does not have)
    precision: str
    test_acc: float
    val_acc: float


def sizes(quick: bool) -> tuple[int, int, int]:
    return (128, 64, 64) if quick else (2000, 500, 500)


def eval_steps(train_rows: int) -> int:
    """The Trainer's ``eval_steps`` for sweep's validation plan of this epoch; raises where no single
    interval gives the same steps (the plan spreads them evenly, the Trainer every N steps)."""
    from lightning_modules.validation import ValidationPlan

    plan = ValidationPlan.for_budget(math.ceil(train_rows / 32), 1, -1, VAL_CHECK)
    every = plan.steps[0]
    same_work("validation steps", plan.steps, [every * k for k in range(1, plan.count + 1)])
    return every


def ours(work: Path, csv: Path, cache: Path, precision: str) -> Side:
    process_s = timed_cli(
        "sweep.run", f"model={MODEL}", "task=csv", f"task.path={csv}", "task.split_column=split", f"task.max_length={MAX_LENGTH}",
        "optim.batch_size=32", "trainer.max_epochs=1", f"trainer.val_check_interval={VAL_CHECK}", f"trainer.precision={precision}",
        f"paths.cache_dir={cache}", cwd=work,
    )  # fmt: skip
    run = newest_run(work)
    metrics = run.data.metrics
    validations = len(client(work).get_metric_history(run.info.run_id, "val/acc"))
    return Side(
        loop_s=metrics["train_time_s"], process_s=process_s, steps=int(metrics["optimizer_steps"]),
        rows=[int(metrics[f"data_{split}_rows"]) for split in ("train", "val", "test")], validations=validations,
        params=int(metrics["params_total"]), precision=run.data.tags["precision"], test_acc=metrics["test/acc"],
        val_acc=metrics["best_val/acc"],
    )  # fmt: skip


def theirs(work: Path, csv: Path, model: Path, every: int, bf16: bool) -> Side:
    out = work / "trainer.json"
    args = ["--csv", str(csv), "--model", str(model), "--eval-steps", str(every), "--max-length", str(MAX_LENGTH), "--out", str(out)]
    process_s = timed_cli("tests.benchmarks.trainer_job", *args, *(["--bf16"] if bf16 else []), cwd=work)
    got = json.loads(out.read_text())
    return Side(
        loop_s=got["train_s"], process_s=process_s, steps=got["optimizer_steps"], rows=got["rows"], validations=got["validations"],
        params=got["params"] - got["pooler_params"], precision="bf16-mixed" if bf16 else "32-true", test_acc=got["test_acc"],
        val_acc=got["val_acc"],
    )  # fmt: skip


def check_same_work(trainer: Side, sweep: Side, precision: str) -> None:
    same_work("train/val/test rows", trainer.rows, sweep.rows)
    same_work("optimizer steps", trainer.steps, sweep.steps)
    same_work("validations", trainer.validations, sweep.validations)
    same_work("model parameters (without the Trainer's CLS pooler)", trainer.params, sweep.params)
    same_work("precision", precision, sweep.precision)  # also: precision=auto resolved to bf16 on a bf16 CPU


def compare(settings: Settings, csv: Path, cache: Path, model: Path, ours_precision: str, bf16: bool) -> tuple[list[Side], list[Side]]:
    """Trainer, sweep, Trainer, sweep ...: each pair checked for the same work."""
    every = eval_steps(sizes(settings.quick)[0])
    trainers: list[Side] = []
    sweeps: list[Side] = []

    def trainer_side() -> float:
        trainers.append(theirs(settings.work, csv, model, every, bf16))
        return trainers[-1].loop_s

    def sweep_side() -> float:
        sweeps.append(ours(settings.work, csv, cache, ours_precision))
        check_same_work(trainers[-1], sweeps[-1], trainers[-1].precision)
        return sweeps[-1].loop_s

    interleaved(trainer_side, sweep_side, settings.repeats)
    return trainers, sweeps


def median(sides: list[Side], key: str) -> float:
    return statistics.median(getattr(side, key) for side in sides)


def pair_ratio(trainers: list[Side], sweeps: list[Side], key: str) -> float:
    """Median of the per-pair ratios sweep / Trainer (each pair measured side by side)."""
    return statistics.median(getattr(s, key) / getattr(t, key) for t, s in zip(trainers, sweeps))


def accuracy_figure(what: str, sweeps: list[Side], trainers: list[Side]) -> Figure:
    """Mean test accuracy, sweep minus Trainer, in points: within 0.5 points below (better is fine)."""
    ours_acc, their_acc = statistics.mean(s.test_acc for s in sweeps), statistics.mean(t.test_acc for t in trainers)
    diff = 100 * (ours_acc - their_acc)
    val = f"val {statistics.mean(s.val_acc for s in sweeps):.3f} vs {statistics.mean(t.val_acc for t in trainers):.3f}"
    detail = f"test acc sweep {ours_acc:.3f} vs Trainer {their_acc:.3f} ({sweeps[0].rows[2]} rows, mean of {len(sweeps)}); {val}"
    return Figure("trial_vs_trainer", what, diff, "points", ">= -0.5 points", diff >= -0.5, detail)


def time_figures(label: str, goal: float, sweeps: list[Side], trainers: list[Side], paired: bool) -> list[Figure]:
    """Training loop and whole process, sweep / Trainer: the median of per-pair ratios where the two were
    measured side by side (``paired``), else the ratio of the medians."""
    figures = []
    for key, what in (("loop_s", "training loop"), ("process_s", "whole process")):
        ratio = pair_ratio(trainers, sweeps, key) if paired else median(sweeps, key) / median(trainers, key)
        detail = (
            f"sweep {median(sweeps, key):.1f} s, Trainer {median(trainers, key):.1f} s "
            f"(medians of {len(sweeps)}; {sweeps[0].rows[0]} train rows, {sweeps[0].steps} steps)"
        )
        held = f"<= {goal}x" if goal else ""
        figures.append(Figure("trial_vs_trainer", f"{label}: {what}", ratio, "x", held, ratio <= goal if goal else None, detail))
    return figures


@benchmark("trial_vs_trainer")
def trial_vs_trainer(settings: Settings) -> list[Figure]:
    from sweep.runtime.hardware import BF16_CPU_FLAGS, cpu_flags
    from tests.benchmarks.bench_search_vs_trainer import make_split

    cache = shared_cache(settings)
    model = model_folder(cache)  # converted once, before any clock starts
    csv = make_split(settings.work, *sizes(settings.quick))
    make_store(settings.work)
    trainers32, sweeps32 = compare(settings, csv, cache, model, "32-true", bf16=False)
    figures = [
        *time_figures("fp32, sweep / Trainer", 0.95, sweeps32, trainers32, paired=True),
        accuracy_figure("fp32 test accuracy, sweep - Trainer", sweeps32, trainers32),
    ]
    if not any(flag in cpu_flags() for flag in BF16_CPU_FLAGS):
        return figures  # bf16 is emulated here: precision=auto stays fp32, nothing more to compare
    if settings.quick:  # the smoke run: sweep's bf16 job once, against the fp32 Trainer measured above
        sweeps16 = [ours(settings.work, csv, cache, "auto")]
        check_same_work(trainers32[0], sweeps16[0], "bf16-mixed")
    else:
        trainers16, sweeps16 = compare(settings, csv, cache, model, "auto", bf16=True)
    figures += [
        *time_figures("precision=auto (bf16), sweep / Trainer fp32", 0.6, sweeps16, trainers32, paired=False),
        accuracy_figure("precision=auto test accuracy, sweep bf16 - Trainer fp32", sweeps16, trainers32),
    ]
    if not settings.quick:
        figures[-1:-1] = time_figures("bf16, sweep / Trainer bf16", 0.0, sweeps16, trainers16, paired=True)
    return figures
