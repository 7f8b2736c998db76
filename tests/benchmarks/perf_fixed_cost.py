"""Benchmark ``fixed_cost`` (issue 10, item 2): what a job and a search trial cost before they train.

- ``python -m sweep.run --help`` and two config errors (an unknown group choice, checked before Hydra
  composes; a bad value, found when the job validates its config), each a process start to exit; both
  errors must exit 2.
- A single job on tiny data (MiniLM-L3, 64 / 32 / 32 rows, quick 32 / 16 / 16; warm model cache, an existing store):
  process start to its first optimizer step.
- A search (``-m search=optuna``, 4 trials, full mode 6, same tiny data): each trial from its launch (the
  Optuna trial's ``datetime_start``: the worker asked for it) to its first optimizer step. The first trial
  also pays the imports and the study's set-up; the later ones show what a trial costs a search.

The first step's time is the timestamp MLflow gave the first ``train/loss_step`` of the run (the jobs
run with ``trainer.log_every_n_steps=1``, so it is logged right after step 1).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from tests.benchmarks.common import runs
from tests.benchmarks.suite import Figure, Settings, benchmark
from tests.benchmarks.sweep_jobs import MODEL, first_step_at, make_store, model_folder, newest_run, shared_cache, timed_cli

TINY = ["task.train_size=64", "task.val_size=32", "task.test_size=32"]  # two training batches
QUICK = ["task.train_size=32", "task.val_size=16", "task.test_size=16"]  # the smoke run: one


def rows(settings: Settings) -> list[str]:
    return QUICK if settings.quick else TINY


FAST_GOAL = 1.5  # --help and config errors, seconds
TRIAL_GOAL = 1.0  # per-trial fixed cost after the first trial, seconds


def median_seconds(work: Path, args: list[str], exit_code: int, repeats: int) -> float:
    return statistics.median(timed_cli("sweep.run", *args, cwd=work, allowed=(exit_code,)) for _ in range(repeats))


def startup(settings: Settings, cache: Path) -> tuple[float, str]:
    """Process start to the first optimizer step of a single job (median), and where the time went."""
    work = settings.work / "job"
    make_store(work)
    seconds, details = [], []
    for _ in range(settings.repeats):
        launched = time.time()
        args = [f"model={MODEL}", *rows(settings), "trainer.log_every_n_steps=1", f"paths.cache_dir={cache}"]
        process_s = timed_cli("sweep.run", *args, cwd=work)
        run = newest_run(work)
        seconds.append(first_step_at(work, run.info.run_id) - launched)
        m = run.data.metrics
        details.append(
            f"run opened at {run.info.start_time / 1000 - launched:.1f} s (data {m['prepare_load_data_s']:.2f}, model "
            f"{m['prepare_load_model_s']:.2f}, tokens {m['prepare_tokenize_s']:.2f}), process {process_s:.1f} s"
        )
    return statistics.median(seconds), details[seconds.index(statistics.median_low(seconds))]


def trial_costs(settings: Settings, cache: Path) -> tuple[list[float], float]:
    """Per trial, in trial order: its launch to its first optimizer step; and the search's wall seconds."""
    import optuna

    work = settings.work / "search"
    make_store(work)
    trials = 4 if settings.quick else 6
    wall = timed_cli(
        "sweep.run", "-m", "search=optuna", f"search.n_trials={trials}", f"model={MODEL}", *rows(settings), "trainer.log_every_n_steps=1",
        f"paths.cache_dir={cache}", cwd=work,
    )  # fmt: skip
    (db,) = (work / "outputs" / "optuna").glob("*.db")
    storage = f"sqlite:///{db}"
    (study,) = optuna.get_all_study_names(storage)
    launched = {str(t.number): t.datetime_start.timestamp() for t in optuna.load_study(study_name=study, storage=storage).trials}
    children = {run.data.tags["optuna.trial"]: run for run in runs(work) if "optuna.trial" in run.data.tags}
    if sorted(children) != sorted(launched) or len(launched) != trials:
        raise RuntimeError(f"expected {trials} trials with a run each; trials {sorted(launched)}, runs {sorted(children)}")
    costs = [first_step_at(work, children[n].info.run_id) - launched[n] for n in sorted(launched, key=int)]
    return costs, wall


@benchmark("fixed_cost")
def fixed_cost(settings: Settings) -> list[Figure]:
    cache = shared_cache(settings)
    model_folder(cache)  # the one-time conversion of the packaged model is not a job's fixed cost
    work = settings.work
    reps = settings.repeats
    helped = median_seconds(work, ["--help"], 0, reps)
    unknown = median_seconds(work, ["strategy=nope"], 2, reps)
    bad_value = median_seconds(work, ["optim.batch_size=0"], 2, reps)
    first_step, where = startup(settings, cache)
    costs, wall = trial_costs(settings, cache)
    later = statistics.median(costs[1:])
    each = ", ".join(f"{cost:.2f}" for cost in costs)
    how = f"median of {reps}, process start to exit"
    return [
        Figure("fixed_cost", "sweep.run --help", helped, "s", f"<= {FAST_GOAL} s", helped <= FAST_GOAL, how),
        Figure("fixed_cost", "config error: unknown group choice (strategy=nope), exit 2", unknown, "s", f"<= {FAST_GOAL} s",
               unknown <= FAST_GOAL, how),
        Figure("fixed_cost", "config error: bad value (optim.batch_size=0), exit 2", bad_value, "s", f"<= {FAST_GOAL} s",
               bad_value <= FAST_GOAL, how),
        Figure("fixed_cost", "single job: process start to first optimizer step", first_step, "s", "", None,
               f"median of {reps}, {rows(settings)[0]}; {where}"),
        Figure("fixed_cost", "search: first trial, launch to first step", costs[0], "s", "", None,
               f"includes the job's imports; search of {len(costs)} trials took {wall:.1f} s"),
        Figure("fixed_cost", "search: later trials, launch to first step", later, "s", f"<= {TRIAL_GOAL} s", later <= TRIAL_GOAL,
               f"median of trials 2..{len(costs)}; each trial: {each} s"),
    ]  # fmt: skip
