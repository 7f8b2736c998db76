"""Benchmark: the search features of issue 22. Not a test: nothing here asserts a score or a time.

    python -m tests.benchmarks.bench_search_features peft  --out /tmp/bench_peft      # reads the grids' store
    python -m tests.benchmarks.bench_search_features warm  --out /tmp/bench_warm [--trials 12 --seeds 3]
    python -m tests.benchmarks.bench_search_features reuse --out /tmp/bench_reuse
    python -m tests.benchmarks.bench_search_features halving --out /tmp/bench_halving

peft: the table of PEFT methods on MiniLM-L6 x Rotten Tomatoes at `make run`'s budget, read from the store of
``python -m sweep.run -m strategy=peft strategy.method=... tracking.save_model=always`` (and lora, bitfit, full)
run in --out: test acc, trainable share, train seconds (one epoch), peak RSS, kept model size; best first.
warm: a --trials search on MiniLM-L3 (the related setting), then --seeds searches on MiniLM-L6 started cold and as
many warm-started from it (search.warm_start, its best 3 configurations enqueued); the best val/acc after 3, 6 and
--trials trials of each (complete trials, in trial order), and the wall time of each search.
reuse: a grid of 5 jobs (MiniLM-L6, 5 strategies) with search.reuse=true, run twice: how many jobs trained and the wall
time of each; then a TPE search over a 2-point space (the seed) that must propose seen points: trials answered from
runs, and the budget they used.
halving: on --tasks (default: Rotten Tomatoes polarity, classification; VADER's movie-snippet ratings, regression;
Rotten Tomatoes subjectivity is no use here: at 300 validation rows every candidate's short fine-tune predicts its
majority class, 0.93, and ties everything), 4 candidates (MiniLM-L6, MiniLM-L3,
MiniLM-L6's architecture untrained, a small T5 untrained): the fine-tuned truth (each candidate's LoRA fine-tune, 1 epoch of
1,000 rows, the best of its finished runs as sweep.select reads it), then ``sweep.select select.method=halving``
(LoRA, 512 rows, 16 steps doubling) with LogME, H-score and k-NN beside it: the select's own table, τ and wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from tests.benchmarks.common import cli, cpu, runs

DATA = ["task.train_size=600", "task.val_size=200", "task.test_size=200"]
SPACE = ["search.space.strategy=choice(full,lora,feature)"]


def peft(out: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'outputs' / 'mlflow.db'}")
    rows = {}  # per method, its newest finished run (the folder may hold earlier attempts)
    for run in sorted(runs(out), key=lambda run: run.info.start_time):
        tags, metrics, params = run.data.tags, run.data.metrics, run.data.params
        if "model" not in tags or tags.get("state") != "finished":
            continue
        kept = sum(f.file_size or 0 for f in walk(client, run.info.run_id, "model"))
        method = params.get("strategy.method") or tags["strategy"]
        share, seconds, peak = 100 * metrics.get("params_trainable_share", 0), metrics.get("train_time_s"), metrics.get("peak_memory_mb")
        trainable = metrics.get("params_trainable")
        rows[method] = (method, metrics.get("test/acc"), metrics.get("best_val/acc"), trainable, share, seconds, peak, kept / 1e6)
    rows = sorted(rows.values(), key=lambda row: -(row[1] or 0))
    print(f"PEFT methods, MiniLM-L6 x Rotten Tomatoes, 2,000/500/500 rows, 1 epoch; {cpu()}")
    print("| strategy | test acc | best val acc | trainable | trainable % | s/epoch | peak RSS MB | kept MB |")
    print("|---|---|---|---|---|---|---|---|")
    for method, test, val, trainable, share, seconds, peak, kept in rows:
        print(f"| {method} | {test:.4f} | {val:.4f} | {trainable:,.0f} | {share:.3g} | {seconds:.1f} | {peak:,.0f} | {kept:.3g} |")


def walk(client, run_id: str, path: str):
    for entry in client.list_artifacts(run_id, path):
        if entry.is_dir:
            yield from walk(client, run_id, entry.path)
        else:
            yield entry


def best_after(study, counts: list[int]) -> list[float | None]:
    import optuna

    ordered = sorted(study.trials, key=lambda trial: trial.number)
    found = []
    for count in counts:
        values = [t.value for t in ordered[:count] if t.state == optuna.trial.TrialState.COMPLETE]
        found.append(max(values) if values else None)
    return found


def study_in(folder: Path):
    import optuna

    database = next((folder / "outputs" / "optuna").glob("*.db"))
    return optuna.load_study(study_name=None, storage=f"sqlite:///{database}"), database


def warm(out: Path, trials: int, seeds: int) -> None:
    common = ["-m", "search=optuna", f"search.n_trials={trials}", *SPACE, *DATA, "paths.cache_dir=" + str(out / "cache")]
    source = out / "source"
    source.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cli("sweep.run", *common, "model=minilm_l3", "search.seed=100", cwd=source)
    source_s = time.perf_counter() - start
    source_study, database = study_in(source)
    warm_from = f"sqlite:///{database}::{source_study.study_name}"
    counts = [3, 6, trials]
    results: dict[str, list] = {"cold": [], "warm": []}
    for seed in range(seeds):
        for kind in ("cold", "warm"):
            folder = out / f"{kind}{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            extra = [f"search.warm_start={warm_from}"] if kind == "warm" else []
            start = time.perf_counter()
            cli("sweep.run", *common, "model=minilm_l6", f"search.seed={seed}", *extra, cwd=folder)
            study, _ = study_in(folder)
            results[kind].append({"best": best_after(study, counts), "s": time.perf_counter() - start})
    print(f"\nwarm start, MiniLM-L6 x Rotten Tomatoes ({', '.join(DATA)}), space {SPACE[0]} + each strategy's own; {cpu()}")
    print(f"source: {trials} trials on MiniLM-L3 in {source_s:.0f} s, best val/acc {source_study.best_value:.4f}")
    print("| start | search seed | " + " | ".join(f"best after {c}" for c in counts) + " | wall s |")
    print("|---|---|" + "---|" * len(counts) + "---|")
    for kind, found in results.items():
        for seed, result in enumerate(found):
            cells = " | ".join("-" if v is None else f"{v:.4f}" for v in result["best"])
            print(f"| {kind} | {seed} | {cells} | {result['s']:.0f} |")
        for index, count in enumerate(counts):
            values = [r["best"][index] for r in found if r["best"][index] is not None]
            if len(values) > 1:
                print(f"  {kind} mean after {count}: {statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}")
    print(json.dumps(results))


def reuse(out: Path) -> None:
    grid = out / "grid"
    grid.mkdir(parents=True, exist_ok=True)
    args = ["-m", "strategy=full,partial,feature,prompt,lora", "search.reuse=true", *DATA, "paths.cache_dir=" + str(out / "cache")]
    for attempt in ("first", "again"):
        start = time.perf_counter()
        cli("sweep.run", *args, cwd=grid)
        seconds = time.perf_counter() - start
        jobs = [run for run in runs(grid) if "model" in run.data.tags]
        newest = sorted(jobs, key=lambda run: run.info.start_time)[-5:]
        trained = sum(1 for run in newest if "reused_from" not in run.data.tags)
        print(f"grid of 5, {attempt}: {trained} trained, {5 - trained} reused, wall {seconds:.1f} s")
    search = out / "search"
    search.mkdir(parents=True, exist_ok=True)
    space = ["search.space.seed=choice(0,1)", "search.space.optim.lr=choice(0.0001)", "search.space.optim.warmup_ratio=choice(0.0)"]
    start = time.perf_counter()
    cli("sweep.run", "-m", "search=optuna", "search.n_trials=4", "search.reuse=true", *space, *DATA, cwd=search)
    study, _ = study_in(search)
    reused = [t for t in study.trials if "reused_from" in t.user_attrs]
    print(f"TPE over 2 points, n_trials=4: {len(study.trials)} trials, {len(study.trials) - len(reused)} trained, "
          f"{len(reused)} answered from runs (off the budget), wall {time.perf_counter() - start:.1f} s")  # fmt: skip
    print(cpu())


# SmolLM2-135M is left out: a LoRA epoch of 1,000 rows is ~20 min on 2 cores (its estimate: 1,080 s), per task
CANDIDATES = ["minilm_l6", "minilm_l3", "minilm_l6_scratch", "t5_small_scratch"]
TRUTH = ["task.train_size=1000", "task.val_size=300", "task.test_size=300"]


def halving(out: Path, tasks: list[str]) -> None:
    for task in tasks:
        folder = out / task
        folder.mkdir(parents=True, exist_ok=True)
        cache = "paths.cache_dir=" + str(out / "cache")
        start = time.perf_counter()
        cli("sweep.run", "-m", f"model={','.join(CANDIDATES)}", "strategy=lora", f"task={task}", *TRUTH, cache, cwd=folder)
        truth_s = time.perf_counter() - start
        start = time.perf_counter()
        shown = cli("sweep.select", "select.method=halving", f"candidates=[{','.join(CANDIDATES)}]", f"task={task}", "select.max_rows=512",
                    "task.val_size=300", "task.test_size=300", cache, cwd=folder)  # fmt: skip
        print(f"\n== {task}: truth (4 LoRA fine-tunes) {truth_s:.0f} s; select with halving {time.perf_counter() - start:.0f} s; {cpu()}")
        print(shown)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["peft", "warm", "reuse", "halving"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", nargs="+", default=["rotten_tomatoes", "vader_movie_ratings"])
    args = parser.parse_args()
    out = args.out.resolve()
    if args.what == "peft":
        peft(out)
    elif args.what == "warm":
        warm(out, args.trials, args.seeds)
    elif args.what == "halving":
        halving(out, args.tasks)
    else:
        reuse(out)


if __name__ == "__main__":
    main()
