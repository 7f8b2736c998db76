"""Search efficiency against the anchors (issue 10, item 4; issue 24, item 3): one split, one space, one trial budget.

    python -m tests.benchmarks.suite --only search [--quick] [--repeats N]

MiniLM-L3, Rotten Tomatoes split by movie (1,000 / 300 / 300 rows; quick: 96 / 64 / 64) in one CSV that
every side reads, TPE over lr log-uniform [1e-5, 3e-4] and warmup [0, 0.2], one epoch, batch 32, 24 trials
(quick 2), one search per sampler seed (``--repeats``: 3 by default, quick 1), the sides interleaved per seed:

(c) ``Trainer.hyperparameter_search(backend="optuna")``, TPE, no pruner, the Trainer's default fp32; warmup
    searched as a float ``warmup_steps`` (a searched ``warmup_ratio`` is cast to int 0 in transformers 5), val
    and test evaluated at the end of each trial;
(a) ours as a user types it: ``python -m sweep.run -m search=optuna``, every default: ``trainer.precision=auto``
    (bf16 where the CPU multiplies it natively), the median pruner, 4 validations a trial, the token cache
    shared by the trials;
(h) the same with ``search.pruner=hyperband``: successive halving in brackets, from the first validation.

Every side loads the weights from the same converted MiniLM-L3 folder (``model.source=<folder>``, as a
hub user's local cache would), so no side pays the one-time ONNX conversion. The code of each side is
tests/benchmarks/bench_search_vs_trainer.py's. The goal: the median wall time of (a) at most half of (c)'s, at
a median best validation accuracy at least (c)'s.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from tests.benchmarks.suite import Figure, Settings, benchmark, same_work

GOAL = 0.5  # ours' wall time against the Trainer's, at equal or better best val accuracy
AUTO = ["trainer.precision=auto"]  # after sweep_search's 32-true: the last override wins
ARMS = {"(a) sweep, defaults": [], "(h) sweep, search.pruner=hyperband": ["search.pruner=hyperband"]}


def sizes(quick: bool) -> tuple[tuple[int, int, int], int]:
    """(train, val, test) rows and the trial budget."""
    return ((96, 64, 64), 2) if quick else ((1000, 300, 300), 24)


@benchmark("search")
def search(settings: Settings) -> list[Figure]:
    from sweep.zoo.loader import resolve_source
    from tests.benchmarks.bench_search_vs_trainer import make_split, sweep_search

    (train, val, test), trials = sizes(settings.quick)
    csv = make_split(settings.work, train, val, test)
    shared = settings.work / "cache"  # the converted checkpoint, made once here
    model = resolve_source("asset:minilm_l3", "model.source", shared)
    ours = [f"model.source={model}", *AUTO]
    arms = dict(list(ARMS.items())[:1]) if settings.quick else ARMS
    sides: dict[str, list[dict]] = {"(c) HF Trainer.hyperparameter_search": []} | {name: [] for name in arms}
    for seed in range(settings.repeats):  # interleaved per seed: load drifts hit every side alike
        hf = timed(f"(c) seed {seed}", trainer_process, csv, shared, seed, trials)
        sides["(c) HF Trainer.hyperparameter_search"].append(hf)
        for name, extra in arms.items():
            work = fresh(settings.work, name[:3].strip("()"))
            side = timed(f"{name[:3]} seed {seed}", sweep_search, csv, work, seed, trials, ours + extra, name, fresh(settings.work, "run"))
            same_work("trials", side["trials"], hf["trials"])
            same_work("training rows", side["train_rows"], hf["train_rows"])
            sides[name].append(side)

    figures = [side_figure(name, runs, trials) for name, runs in sides.items()]
    hf_runs = sides["(c) HF Trainer.hyperparameter_search"]
    figures += [ratio_figure(name, sides[name], hf_runs) for name in arms]
    return figures


def trainer_process(csv: Path, cache: Path, seed: int, trials: int) -> dict:
    """(c) in a fresh process, as a user's script runs: its wall time counts the imports and the model's
    first load as the sweep.run sides' does; ``search_s`` is hyperparameter_search's own time."""
    import json
    import os
    import subprocess
    import sys
    import time

    from tests.benchmarks.common import ROOT

    code = (
        "import json, sys\nfrom pathlib import Path\nfrom sweep.runtime.console import quiet_libraries\nquiet_libraries()\n"
        "from tests.benchmarks.bench_search_vs_trainer import trainer_search\n"
        f"print(json.dumps(trainer_search(Path({str(csv)!r}), Path({str(cache)!r}), {seed}, {trials})))"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    side = json.loads(done.stdout.strip().splitlines()[-1])
    return {**side, "search_s": side["wall_s"], "wall_s": wall}


def timed(name: str, fn, *args) -> dict:
    side = fn(*args)
    print(f"  {name}: {side['wall_s']:.0f} s, best val acc {side['best']:.4f}", flush=True)
    return side


def fresh(work: Path, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def side_figure(name: str, runs: list[dict], trials: int) -> Figure:
    inside = f"{median(runs, 'search_s'):.0f} s inside hyperparameter_search; " if "search_s" in runs[0] else ""
    hits = f", {median(runs, 'token_cache_hits'):.0f} token cache hits (3 splits a trial)" if "token_cache_hits" in runs[0] else ""
    seeds = "; ".join(f"seed {r['seed']}: {r['wall_s']:.0f} s, best {r['best']:.4f}, {r['pruned']} pruned" for r in runs)
    return Figure(
        "search",
        f"{name}: process wall time",
        median(runs, "wall_s"),
        "s",
        detail=f"medians of {len(runs)} sampler seeds: {median(runs, 'trials'):.0f}/{trials} trials, {median(runs, 'pruned'):.0f} pruned, "
        f"{median(runs, 'steps'):.0f} optimizer steps{hits}; {inside}best val acc {median(runs, 'best'):.4f}, "
        f"its test acc {median(runs, 'test'):.4f} ({seeds})",
    )


def ratio_figure(name: str, ours: list[dict], other: list[dict]) -> Figure:
    ratio = median(ours, "wall_s") / median(other, "wall_s")
    best, theirs = median(ours, "best"), median(other, "best")
    return Figure(
        "search",
        f"{name[:3]} / (c) wall time, medians over sampler seeds",
        ratio,
        "x",
        goal=f"<= {GOAL}x, best val acc >=",
        met=ratio <= GOAL and best >= theirs,
        detail=f"{median(ours, 'wall_s'):.0f} s vs {median(other, 'wall_s'):.0f} s; median best val acc {best:.4f} vs {theirs:.4f}",
    )
