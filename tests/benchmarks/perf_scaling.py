"""How cost grows with the data (issue 10, item 6): training time per row and peak memory of a job.

    python -m tests.benchmarks.suite --only scaling [--quick]

Full fine-tuning of MiniLM-L3 (``python -m sweep.run``, batch 32, max length 64, default precision) on
Rotten Tomatoes with 1k, 4k and all training rows (``task.train_size=null``: the whole corpus less
val and test, ~12k of its 13.9k rows), and on 100k synthetic rows made of the corpus' own words
(tests/benchmarks/bench_token_cache.py's generator; its rows are longer, so time is also given per token).
Val and test are 100 rows each everywhere, so they cost the same at every size.

Whole epochs of 12k and 100k rows would take 5 and 40 minutes here, so every job trains the same
``trainer.max_steps`` (32: one whole epoch of the 1k rows; quick: 4) and the epoch time is the time per
step times the epoch's batches. The time per step is read from the timestamps of the training loss,
logged at every step (``trainer.log_every_n_steps=1``), from the first step to the last: the fit's
start-up, the first step's warm-up and the validation are not in it. Linear means a flat time per real token of
the batches those steps trained (drawn again here as the job drew them: a large split's first steps train its
longer rows, see ``timed_batches_tokens``): what grows with the data besides the steps (reading, splitting, the
cache hit's load, the sampler's batches) shows in the job's preparation time, reported beside it.

Each size runs a first job that tokenizes and fills the token cache (1 step), then ``repeats`` cache-hit jobs
(seeds 42, 43, ...: other batches each time), interleaved across the sizes; the figures are their medians. Each
hit: its time (``train_time_s``, ``optimizer_steps``, ``prepare_*`` from its MLflow run) and the peak RSS of its
whole process (the kernel's ru_maxrss of the child, from ``os.wait4``): flat means the second job of a sweep
costs no more memory on 100k rows than on 1k.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.benchmarks.suite import Figure, Settings, benchmark

BATCH = 32
HELD_OUT = 100  # val and test rows at every size
LINEAR = 1.1  # goal: time per row (token) at most 1.1x the 1k figure
FLAT = 1.1  # goal: peak RSS of the cache-hit job at most 1.1x the 1k job's


def process(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, float, Path]:
    """Start ``python -m sweep.run args`` in ``cwd`` as a user types it (with this checkout on the path);
    returns the child, when it started and its log."""
    from tests.benchmarks.common import ROOT

    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    environment.pop("MLFLOW_TRACKING_URI", None)
    log = cwd / f"job-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        child = subprocess.Popen([sys.executable, "-m", "sweep.run", *args], cwd=cwd, env=environment, stdout=out, stderr=subprocess.STDOUT)
    return child, time.perf_counter(), log


def finish(child: subprocess.Popen, started: float, log: Path) -> tuple[float, float]:
    """Wait for ``child``: (wall seconds, its peak RSS in MB: the kernel's ru_maxrss of it, KiB on Linux)."""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    if child.returncode != 0:
        raise RuntimeError(f"sweep.run exited {child.returncode}:\n{log.read_text()[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def job(args: list[str], cwd: Path) -> tuple[float, float]:
    return finish(*process(args, cwd))


def synthetic_csv(folder: Path, rows: int) -> Path:
    """``rows`` training rows of the corpus' words, 100 val and 100 test, labels alternating."""
    import pandas as pd

    from tests.benchmarks.bench_token_cache import corpus_texts, synthetic_texts

    texts = synthetic_texts(corpus_texts(), rows + 2 * HELD_OUT)
    split = ["train"] * rows + ["val"] * HELD_OUT + ["test"] * HELD_OUT
    path = folder / "synthetic.csv"
    pd.DataFrame({"text": texts, "label": [("a", "b")[i % 2] for i in range(len(texts))], "split": split}).to_csv(path, index=False)
    return path


def cases(quick: bool, folder: Path) -> dict[str, list[str]]:
    """Name -> the task's overrides."""
    rotten = [f"task.val_size={HELD_OUT}", f"task.test_size={HELD_OUT}"]
    found = {"1k Rotten Tomatoes": ["task.train_size=1000", *rotten]}
    if not quick:
        found["4k Rotten Tomatoes"] = ["task.train_size=4000", *rotten]
        found["whole Rotten Tomatoes"] = ["task.train_size=null", *rotten]
        csv = synthetic_csv(folder, 100_000)
        found["100k synthetic"] = ["task=csv", f"task.path={csv}", "task.split_column=split", "task.max_length=64"]
    return found


def train_lengths(cache: Path, rows: int):
    """Each training row's token count, read from the token cache the first job wrote (the split of ``rows`` rows)."""
    import numpy as np

    for path in (cache / "tokens").glob("*.npz"):
        with np.load(path) as stored:
            offsets = stored["offsets"]
        if len(offsets) - 1 == rows:
            return np.diff(offsets)
    raise RuntimeError(f"no cached split of {rows} rows under {cache}")


def train_tokens(cache: Path, rows: int) -> int:
    return int(train_lengths(cache, rows).sum())


def timed_batches_tokens(lengths, seed: int, steps: int) -> tuple[float, float]:
    """(real, padded) tokens per batch of the batches the step time covers (the 2nd to the last: the time runs from
    the first step's loss to the last's), drawn as the job draws them: sweep/data/loaders.py's length-grouped sampler
    with the job's seed. Why not the split's mean: the sampler sorts mega-batches of 50 batches longest first, so
    the first 32 steps of a large split train its longer rows (and the longest batch of all comes first), while
    32 steps of 1k rows are its whole epoch."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    order = list(LengthGroupedSampler(BATCH, lengths=lengths.tolist(), generator=torch.Generator().manual_seed(seed)))
    batches = [lengths[order[i * BATCH : (i + 1) * BATCH]] for i in range(1, steps)]
    return sum(int(b.sum()) for b in batches) / len(batches), sum(int(b.max()) * len(b) for b in batches) / len(batches)


def step_time(run_id: str, folder: Path) -> float:
    """Seconds per optimizer step between the first and the last step's training loss (logged at every
    step, timestamped when logged): no fit start-up, first step's warm-up or validation in it."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'outputs' / 'mlflow.db'}")
    history = sorted(client.get_metric_history(run_id, "train/loss_step"), key=lambda metric: metric.step)
    first, last = history[0], history[-1]
    return (last.timestamp - first.timestamp) / 1000 / (last.step - first.step)


def prepare(name: str, task: list[str], work: Path) -> dict:
    """The size's folder and its cold job: it tokenizes and fills the token cache (1 step)."""
    folder = work / name.replace(" ", "-")
    folder.mkdir()
    common = ["model=minilm_l3", f"optim.batch_size={BATCH}", "trainer.max_epochs=1", *task]
    cold_wall, cold_rss = job([*common, "trainer.max_steps=1"], folder)
    return {"name": name, "folder": folder, "common": common, "cold_wall": cold_wall, "cold_rss": cold_rss, "hits": []}


def measure(size: dict, steps: int, seed: int) -> None:
    """One cache-hit job of ``size`` (seed ``seed``: other batches each repeat), added to ``size["hits"]``."""
    from tests.benchmarks.common import runs

    folder = size["folder"]
    wall, rss = job([*size["common"], f"seed={seed}", f"trainer.max_steps={steps}", "trainer.log_every_n_steps=1"], folder)
    hit = max(runs(folder), key=lambda run: run.info.start_time)
    metrics = hit.data.metrics
    if metrics["prepare_token_cache_hits"] != 3 or metrics["optimizer_steps"] != steps:
        raise RuntimeError(f"{size['name']}: the measured job was to hit the token cache and train {steps} steps: {metrics}")
    lengths = train_lengths(folder / "outputs" / "cache", int(metrics["data_train_rows"]))
    real, padded = timed_batches_tokens(lengths, seed, steps)
    per_step = step_time(hit.info.run_id, folder)
    size["hits"].append({"per_step": per_step, "per_ktoken": per_step / real * 1000, "real": real, "padded": padded, "metrics": metrics,
                         "wall": wall, "rss": rss})  # fmt: skip
    print(f"  {size['name']} (seed {seed}): {size['hits'][-1]['per_step']:.3f} s/step, peak RSS {rss:,.0f} MB", flush=True)


def summary(size: dict) -> dict:
    """The medians of the size's repeats, and what every repeat shares (rows, tokens)."""
    from statistics import median

    from tests.benchmarks.common import runs

    hits = size["hits"]
    metrics = hits[len(hits) // 2]["metrics"]
    rows = int(metrics["data_train_rows"])
    cold = min(runs(size["folder"]), key=lambda run: run.info.start_time)
    per_step = median(hit["per_step"] for hit in hits)
    tokens = train_tokens(size["folder"] / "outputs" / "cache", rows) / rows
    return {
        "name": size["name"],
        "rows": rows,
        "repeats": len(hits),
        "spread": (min(hit["per_step"] for hit in hits), max(hit["per_step"] for hit in hits)),
        "tokens_per_row": tokens,
        "per_step": per_step,
        "per_row_ms": 1000 * per_step / BATCH,
        "per_ktoken_ms": 1000 * median(hit["per_ktoken"] for hit in hits),  # per real token of the timed batches
        "batch_tokens": median(hit["real"] for hit in hits),
        "batch_padded": median(hit["padded"] for hit in hits),
        "epoch_s": per_step * -(-rows // BATCH),
        "train_time_s": median(hit["metrics"]["train_time_s"] for hit in hits),
        "prepare_s": sum(metrics.get(f"prepare_{key}", 0) for key in ("load_data_s", "load_model_s", "tokenize_s")),
        "load_data_s": metrics["prepare_load_data_s"],
        "tokenize_s": metrics["prepare_tokenize_s"],
        "rss": median(hit["rss"] for hit in hits),
        "train_rss": median(hit["metrics"]["peak_memory_mb"] for hit in hits),
        "wall": median(hit["wall"] for hit in hits),
        "cold_wall": size["cold_wall"],
        "cold_rss": size["cold_rss"],
        "cold_tokenize_s": cold.data.metrics["prepare_tokenize_s"],
    }


@benchmark("scaling")
def scaling(settings: Settings) -> list[Figure]:
    steps = 4 if settings.quick else 32
    sizes = [prepare(name, task, settings.work) for name, task in cases(settings.quick, settings.work).items()]
    for repeat in range(settings.repeats):  # interleaved: 1k, 4k, whole, 100k, 1k, ...: load drifts hit every size alike
        for size in sizes:
            measure(size, steps, seed=42 + repeat)
    measured = [summary(size) for size in sizes]
    base = measured[0]
    figures = []
    for m in measured:
        time_ratio = m["per_ktoken_ms"] / base["per_ktoken_ms"]
        rss_ratio = m["rss"] / base["rss"]
        shown = m is not base
        figures.append(
            Figure(
                "scaling",
                f"{m['name']} ({m['rows']:,} rows): training time per row",
                m["per_row_ms"],
                "ms",
                goal=f"per token <= {LINEAR}x 1k's" if shown else "",
                met=time_ratio <= LINEAR if shown else None,
                detail=f"{m['per_step']:.3f} s/step from step 1 to {steps}, median of {m['repeats']} seeds "
                f"({m['spread'][0]:.3f} to {m['spread'][1]:.3f}; {m['train_time_s']:.1f} s in fit); "
                f"{m['tokens_per_row']:.1f} tokens/row; timed batches {m['batch_tokens']:.0f} real, {m['batch_padded']:.0f} padded: "
                f"{m['per_ktoken_ms']:.2f} ms per 1k real tokens, {time_ratio:.2f}x 1k's; "
                f"epoch {m['epoch_s']:.0f} s extrapolated; "
                f"preparing {m['prepare_s']:.1f} s (data {m['load_data_s']:.1f} s, tokens from cache {m['tokenize_s']:.2f} s, "
                f"cold {m['cold_tokenize_s']:.2f} s)",
            )
        )
        figures.append(
            Figure(
                "scaling",
                f"{m['name']}: peak RSS of a cache-hit job",
                m["rss"],
                "MB",
                goal=f"<= {FLAT}x 1k's" if shown else "",
                met=rss_ratio <= FLAT if shown else None,
                detail=f"whole process (ru_maxrss), {rss_ratio:.2f}x 1k's; during training {m['train_rss']:,.0f} MB; "
                f"the cold job before it {m['cold_rss']:,.0f} MB; job wall {m['wall']:.0f} s",
            )
        )
    return figures
