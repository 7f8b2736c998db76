"""Parallel workers on one study (issue 10, item 7): 1 worker x 2 threads against 2 workers x 1 thread.

    python -m tests.benchmarks.suite --only workers [--quick]

The same search both ways, measured A B A B: MiniLM-L3 full fine-tuning, Rotten Tomatoes 256 / 64 / 64
rows (quick: 64 / 32 / 32), one epoch of batch 32, fp32, TPE over the default space, ``search.pruner=none``
(a pruner's decisions depend on which trials ran side by side: both sides must train the same steps),
``search.n_trials`` 6 (quick: 2):

- 1 x 2: ``python -m sweep.run -m search=optuna``: the basic launcher, trials one after another in this
  process, torch on 2 threads;
- 2 x 1: the same with ``hydra/launcher=joblib hydra.launcher.n_jobs=2 search.n_jobs=2``: two trials at a
  time, each in a loky worker process on 1 thread.

Threads: sweep sets none itself (only DDP ranks get Lightning's share); torch takes OMP_NUM_THREADS or
the physical cores, and joblib's loky workers get OMP_NUM_THREADS = cores // n_jobs unless it is set.
Both sides set it explicitly (2 and 1), so 2 cores carry exactly 2 busy threads either way.
The figure is trials per hour of the whole command (start-up included, as a user waits for it).
"""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.suite import Figure, Settings, benchmark, interleaved, same_work

THREADS = 2  # the cores both layouts share


def job_args(quick: bool) -> list[str]:
    train, held_out = (64, 32) if quick else (256, 64)
    return [
        "model=minilm_l3", f"task.train_size={train}", f"task.val_size={held_out}", f"task.test_size={held_out}",
        "trainer.max_epochs=1", "trainer.precision=32-true", "optim.batch_size=32",
    ]  # fmt: skip


def command(quick: bool) -> list[str]:
    return ["-m", "search=optuna", *job_args(quick), f"search.n_trials={2 if quick else 6}", "search.pruner=none"]


JOBLIB = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={THREADS}", f"search.n_jobs={THREADS}"]
LAYOUTS = {  # name -> (overrides, environment)
    "1 worker x 2 threads": ([], {"OMP_NUM_THREADS": str(THREADS)}),
    "2 workers x 1 thread": (JOBLIB, {"OMP_NUM_THREADS": "1"}),
}


def search(layout: str, quick: bool, work: Path, cache: Path, done: list[dict]) -> float:
    """Run the search in a new folder (the token cache shared: both layouts find it warm); its wall seconds."""
    import tempfile

    from tests.benchmarks.common import runs
    from tests.benchmarks.perf_scaling import finish, process

    extra, env = LAYOUTS[layout]
    folder = Path(tempfile.mkdtemp(prefix="workers-", dir=work))
    wall, _ = finish(*process([*command(quick), *extra, f"paths.cache_dir={cache}"], folder, env))
    jobs = [run for run in runs(folder) if "mlflow.parentRunId" in run.data.tags]
    done.append(
        {
            "layout": layout,
            "wall": wall,
            "trials": len(jobs),
            "steps": sum(int(run.data.metrics["optimizer_steps"]) for run in jobs),
            "rows": sorted({int(run.data.metrics["data_train_rows"]) for run in jobs}),
            "train_s": sum(run.data.metrics["train_time_s"] for run in jobs),
        }
    )
    print(f"  {layout}: {len(jobs)} trials in {wall:.0f} s", flush=True)
    return wall


@benchmark("workers")
def workers(settings: Settings) -> list[Figure]:
    from sweep.zoo.loader import resolve_source

    cache = settings.work / "cache"
    resolve_source("asset:minilm_l3", "model.source", cache)  # converted once: neither layout pays it
    one, two = LAYOUTS
    done: list[dict] = []
    repeats = min(settings.repeats, 2)  # two rounds of two searches fit the few minutes a benchmark may take
    wall_one, wall_two, ratio = interleaved(
        lambda: search(one, settings.quick, settings.work, cache, done),
        lambda: search(two, settings.quick, settings.work, cache, done),
        repeats,
    )
    sides = {layout: [d for d in done if d["layout"] == layout] for layout in LAYOUTS}
    for a, b in zip(sides[one], sides[two]):
        same_work("trials", a["trials"], b["trials"])
        same_work("optimizer steps", a["steps"], b["steps"])
        same_work("training rows", a["rows"], b["rows"])
    trials = done[0]["trials"]
    per_hour = {one: 3600 * trials / wall_one, two: 3600 * trials / wall_two}
    better = max(per_hour, key=per_hour.get)
    figures = [
        Figure(
            "workers",
            f"{layout}: trials per hour",
            per_hour[layout],
            "trials/h",
            detail=f"{trials} trials of {sides[layout][0]['steps'] // trials} steps, median wall {wall:.0f} s of {repeats}; "
            f"training {sum(d['train_s'] for d in sides[layout]) / len(sides[layout]):.0f} s summed over trials",
        )
        for layout, wall in ((one, wall_one), (two, wall_two))
    ]
    figures.append(
        Figure(
            "workers",
            "2 workers x 1 thread / 1 worker x 2 threads: wall time",
            ratio,
            "x",
            goal="< 1x: the documented default is the better one",
            met=None,
            detail=f"median of {repeats} A B pairs; better here: {better}",
        )
    )
    return figures
