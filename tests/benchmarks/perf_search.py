"""Search efficiency against the anchors (issue 10, item 4): one split, one space, one trial budget.

    python -m tests.benchmarks.suite --only search [--quick]

MiniLM-L3, Rotten Tomatoes split by movie (1,000 / 300 / 300 rows; quick: 96 / 64 / 64) in one CSV that
every side reads, TPE over lr log-uniform [1e-5, 3e-4] and warmup [0, 0.2], one epoch, batch 32, fp32:

(a) ours: ``python -m sweep.run -m search=optuna``, median pruner, token cache shared by the trials;
(b) the same command with ``search.pruner=none`` and no token cache, what Hydra's own Optuna sweeper
    gives: there is no switch for the token cache, so ``paths.cache_dir`` is a new empty folder per
    trial, ``${paths.output_dir}/nocache/${now:%H-%M-%S-%f}`` (each job composes its config, so ``now``
    resolves at each trial's start; ``${hydra:runtime.output_dir}`` cannot be used: the sweeper resolves
    the config before any job), and every trial tokenizes again;
(c) ``Trainer.hyperparameter_search(backend="optuna")``, warmup searched as a float ``warmup_steps``
    (a searched ``warmup_ratio`` is cast to int 0 in transformers 5), val and test evaluated at the end.

Every side loads the weights from the same converted MiniLM-L3 folder (``model.source=<folder>``, as a
hub user's local cache would), so no side pays the one-time ONNX conversion. The code of each side is
tests/benchmarks/bench_search_vs_trainer.py's. One round (a, b, c back to back): three searches of six
trials take the ~6 minutes this benchmark may use.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.benchmarks.suite import Figure, Settings, benchmark, same_work

GOAL = 0.5  # (a)'s wall time against (b)'s and (c)'s, at equal or better best val accuracy
AUTO = ["trainer.precision=auto"]  # after the sides' 32-true: the last override wins


def sizes(quick: bool) -> tuple[tuple[int, int, int], int]:
    """(train, val, test) rows and the trial budget."""
    return ((96, 64, 64), 2) if quick else ((1000, 300, 300), 6)


@benchmark("search")
def search(settings: Settings) -> list[Figure]:
    from sweep.runtime.hardware import resolve_precision
    from sweep.zoo.loader import resolve_source
    from tests.benchmarks.bench_search_vs_trainer import make_split, sweep_search

    (train, val, test), trials = sizes(settings.quick)
    csv = make_split(settings.work, train, val, test)
    shared = settings.work / "cache"  # the converted checkpoint, made once here
    model = resolve_source("asset:minilm_l3", "model.source", shared)
    ours = [f"model.source={model}"]
    seed = 0
    hf = timed("(c)", trainer_process, csv, shared, seed, trials)
    a = timed("(a)", sweep_search, csv, fresh(settings.work, "a"), seed, trials, ours, "(a) sweep", fresh(settings.work, "a-run"))
    no_cache = ["search.pruner=none", "paths.cache_dir=${paths.output_dir}/nocache/${now:%H-%M-%S-%f}"]
    b_name = "(b) sweep, no pruner, no cache"
    b = timed("(b)", sweep_search, csv, fresh(settings.work, "b"), seed, trials, ours + no_cache, b_name, fresh(settings.work, "b-run"))

    if b["token_cache_hits"]:
        raise RuntimeError(f"(b) was to run without a token cache, yet its trials hit it {b['token_cache_hits']} times")
    same_work("trials", a["trials"], hf["trials"])
    same_work("trials", b["trials"], hf["trials"])
    same_work("training rows", (a["train_rows"], b["train_rows"]), (hf["train_rows"], hf["train_rows"]))
    same_work("optimizer steps of the unpruned searches (b, c)", b["steps"], hf["steps"])
    figures = [
        *(side_figure(side, trials) for side in (a, b, hf)),
        ratio_figure(a, b, "(a) / (b) wall time, no pruner and no cache"),
        ratio_figure(a, hf, "(a) / (c) wall time, Trainer.hyperparameter_search"),
    ]
    if not settings.quick and resolve_precision("auto", "cpu").startswith("bf16"):  # our default precision, where the CPU has bf16
        name = "(a') sweep, trainer.precision=auto (bf16)"
        a2 = timed("(a')", sweep_search, csv, fresh(settings.work, "a2"), seed, trials, ours + AUTO, name, fresh(settings.work, "a2-run"))
        same_work("trials", a2["trials"], hf["trials"])
        figures += [side_figure(a2, trials), ratio_figure(a2, hf, "(a') / (c) wall time, our default precision against the Trainer's")]
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


def side_figure(side: dict, trials: int) -> Figure:
    tool = side["tool"] if side["tool"].startswith("(") else "(c) HF Trainer.hyperparameter_search"
    inside = f"{side['search_s']:.0f} s inside hyperparameter_search; " if "search_s" in side else ""
    hits = f", {side['token_cache_hits']} token cache hits (3 splits a trial)" if "token_cache_hits" in side else ""
    return Figure(
        "search",
        f"{tool}: process wall time",
        side["wall_s"],
        "s",
        detail=f"{side['trials']}/{trials} trials, {side['pruned']} pruned, {side['steps']} optimizer steps{hits}; {inside}"
        f"best val acc {side['best']:.4f}, its test acc {side['test']:.4f}",
    )


def ratio_figure(a: dict, other: dict, what: str) -> Figure:
    ratio = a["wall_s"] / other["wall_s"]
    return Figure(
        "search",
        what,
        ratio,
        "x",
        goal=f"<= {GOAL}x, best val acc >=",
        met=ratio <= GOAL and a["best"] >= other["best"],
        detail=f"{a['wall_s']:.0f} s vs {other['wall_s']:.0f} s; best val acc {a['best']:.4f} vs {other['best']:.4f}",
    )
