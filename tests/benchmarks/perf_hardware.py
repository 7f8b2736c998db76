"""Benchmark ``hardware`` (issue 10, item 5; issue 24, item 1): how close a fine-tuning epoch comes to what this
CPU can multiply.

The ceiling: torch's large square matmul (2,048; quick 1,024), best of repeated runs, fp32 and (where the
CPU has avx512_bf16 or AMX) bf16, in this process with torch's default threads. The achieved rate: full
fine-tuning of MiniLM-L6 at max length 128, batch 32, for one epoch through ``python -m sweep.run`` (Rotten
Tomatoes 2,000 / 500 rows; quick MiniLM-L3, 64 / 32), ``trainer.precision=32-true`` and ``auto``, one process
(a grid, seeds 42.. and precision varying fastest). FLOPs are the ones the job itself logs (sweep/pipeline/cost.py):
6 x matmul parameters (embedding lookups left out) x real, non-pad tokens for training, 2 x for each validation;
divided by the fit's ``train_time_s``. Padding is not counted: rows are padded to their batch's longest.

A lever is measured beside bf16 on the same seeds, with its validation accuracy: attention dropout 0
(``model.attention_dropout=0``), which lets SDPA take its fused path. It is reported, not adopted: the
checkpoint's dropout stays the default unless it pays here (RESULTS.md).
"""

from __future__ import annotations

import statistics
import time

from tests.benchmarks.suite import Figure, Settings, benchmark, same_work
from tests.benchmarks.sweep_jobs import MODEL, make_store, model_folder, shared_cache, timed_cli

PRECISIONS = {"32-true": "fp32", "bf16-mixed": "bf16"}
SETTING = ["model=minilm_l6", "task.max_length=128", "optim.batch_size=32"]  # issue 24's: quick runs MiniLM-L3
ATTENTION_DROPOUT_OFF = "model.attention_dropout=0.0"


def matmul_gflops(dtype_name: str, size: int, seconds: float) -> float:
    """Best rate of ``size x size`` matmuls in ``dtype`` over about ``seconds`` (the first only warms up)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    torch.matmul(a, b)
    best, spent = float("inf"), 0.0
    while spent < seconds or best == float("inf"):
        start = time.perf_counter()
        torch.matmul(a, b)
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
    return 2 * size**3 / best / 1e9


def epochs(settings: Settings, cache, precisions: str, work, *extra: str) -> dict[str, list]:
    """Resolved precision -> the finished runs of the grid (one per seed and precision), run in ``work``."""
    from tests.benchmarks.common import runs

    work.mkdir(exist_ok=True)
    make_store(work)
    rows = ["task.train_size=64", "task.val_size=32", "task.test_size=32", f"model={MODEL}"] if settings.quick else SETTING
    seeds = ",".join(str(42 + i) for i in range(settings.repeats))
    timed_cli(
        "sweep.run", "-m", f"seed={seeds}", f"trainer.precision={precisions}", "strategy=full", *rows, *extra,
        "trainer.max_epochs=1", "tracking.save_model=never", f"paths.cache_dir={cache}", cwd=work,
    )  # fmt: skip
    found: dict[str, list] = {}
    for run in runs(work):
        if "mlflow.parentRunId" in run.data.tags and run.data.tags.get("state") == "finished":
            found.setdefault(run.data.tags["precision"], []).append(run)
    return found


def accuracy(runs: list) -> str:
    """Mean ± sd of the runs' best validation and test accuracy."""
    import numpy as np

    def spread(key: str) -> str:
        values = [run.data.metrics[key] for run in runs]
        return f"{np.mean(values):.4f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.4f}"

    return (
        f"best val/acc {spread('best_val/acc')}, test/acc {spread('test/acc')} (seeds {', '.join(run.data.params['seed'] for run in runs)})"
    )


def achieved(runs: list) -> tuple[float, str]:
    """Median training GFLOP/s of these runs and how it was counted."""
    rates, detail = [], ""
    for run in runs:
        m = run.data.metrics
        flops = m["estimate.train_flops"] + m["estimate.eval_flops"]
        rates.append(flops / m["train_time_s"] / 1e9)
        detail = (
            f"{m['estimate.train_flops']:.3g} training + {m['estimate.eval_flops']:.3g} validation FLOPs "
            f"({m['estimate.train_positions']:,.0f} real tokens, {m['data_train_rows']:,.0f} rows) in {m['train_time_s']:.1f} s"
        )
    return statistics.median(rates), f"{detail}; median of {len(rates)}"


@benchmark("hardware")
def hardware(settings: Settings) -> list[Figure]:
    from sweep.runtime.hardware import BF16_CPU_FLAGS, cpu_flags

    cache = shared_cache(settings)
    model_folder(cache, MODEL if settings.quick else "minilm_l6")
    size, seconds = (1024, 0.5) if settings.quick else (2048, 3.0)
    peaks = {"fp32": matmul_gflops("float32", size, seconds)}
    if any(flag in cpu_flags() for flag in BF16_CPU_FLAGS):
        peaks["bf16"] = matmul_gflops("bfloat16", size, seconds)
    found = epochs(settings, cache, "32-true,auto" if "bf16" in peaks else "32-true", settings.work / "precisions")
    same_work("precisions trained (auto resolves to bf16 where the CPU has it)", sorted(PRECISIONS[p] for p in found), sorted(peaks))
    figures = []
    for name, peak in peaks.items():
        figures.append(Figure("hardware", f"{name} matmul ceiling ({size}x{size}, torch)", peak, "GFLOP/s", "", None, "best of repeats"))
    for precision, name in PRECISIONS.items():
        runs = found.get(precision, [])
        if name not in peaks:
            continue
        same_work(f"{name} runs", len(runs), settings.repeats)
        rate, detail = achieved(runs)
        figures.append(Figure("hardware", f"{name} fine-tuning epoch, achieved", rate, "GFLOP/s", "", None, f"{detail}; {accuracy(runs)}"))
        goal = name == "bf16"  # issue 24: bf16 full fine-tuning at >= 25 % of the bf16 ceiling
        share = 100 * rate / peaks[name]
        figures.append(
            Figure("hardware", f"{name} fine-tuning epoch, share of the {name} ceiling", share, "%", ">= 25 %" if goal else "",
                   share >= 25 if goal else None, f"{rate:.0f} of {peaks[name]:.0f} GFLOP/s")
        )  # fmt: skip
    if "bf16" in peaks and not settings.quick:  # the lever, on the same seeds
        lever = epochs(settings, cache, "auto", settings.work / "no-attention-dropout", ATTENTION_DROPOUT_OFF).get("bf16-mixed", [])
        same_work("bf16 runs without attention dropout", len(lever), settings.repeats)
        rate, detail = achieved(lever)
        base = achieved(found["bf16-mixed"])[0]
        figures.append(
            Figure("hardware", "bf16, attention dropout 0 (fused SDPA): share of the ceiling", 100 * rate / peaks["bf16"], "%", "", None,
                   f"{rate:.0f} GFLOP/s, {rate / base:.2f}x the checkpoint's dropout; {detail}; {accuracy(lever)}")
        )  # fmt: skip
    return figures
