"""Benchmark: decisions with error bars (issue 21). Not a test: nothing here asserts a score or a time.

    python -m tests.benchmarks.bench_error_bars grid   --store <outputs/mlflow.db of a grid run with seed=0,1,2>
    python -m tests.benchmarks.bench_error_bars search --out /tmp/bench_confirm [--trials 12 --confirm 3]
    python -m tests.benchmarks.bench_error_bars cost   [--store <a store with runs that kept predictions>]

grid: the `make run` grid (MiniLM-L6 x Rotten Tomatoes, 5 strategies) run with ``seed=0,1,2``: per strategy the mean
± sd of best val/acc and test/acc; for each single seed, which strategy would have won on that seed alone, against
the three-seed winner; the paired bootstrap between the top two cells (the report's own code).
search: a ``search.n_trials`` search of MiniLM-L3 with ``search.confirm``: the top 3 before and after confirmation
(the parent's confirm.md).
cost: what keeping predictions costs per run (predictions_bytes, predictions_s, from a store's runs), and the
bootstrap's time at 10k rows (1000 resamples, 2 cells x 3 seeds) for accuracy, macro-F1 over 10 classes, Spearman and
corpus BLEU: timing of the arithmetic on generated statistics, not a result about any data.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sweep.runtime.hardware import cpu_name

ROOT = Path(__file__).resolve().parents[2]


def client_of(store: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{store.resolve()}")


def grid(store: Path) -> dict:
    from sweep.report.assemble import build_report
    from sweep.report.config import ReportConfig
    from sweep.report.source import open_source

    client = client_of(store)
    parents = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id], "tags.`sweep.kind` = 'grid'")]
    parent = max(parents, key=lambda r: r.info.start_time)
    began = time.perf_counter()
    report = build_report(open_source(f"sqlite:///{store.resolve()}", "sweep", parent.info.run_id, None), ReportConfig())
    report_s = time.perf_counter() - began
    cells = report.table.ranked
    out = {"parent": parent.info.run_id, "report_s": report_s, "recommendation": report.recommendation.text, "cells": []}
    for cell in cells:
        out["cells"].append(
            {"strategy": cell.strategy, "mean": cell.value, "sd": cell.sd, "n": cell.n, "values": cell.values, "seeds": cell.seeds,
             "interval": cell.interval, "test": cell.tests, "test_interval": cell.test_interval}
        )  # fmt: skip
    winner = cells[0].strategy
    seeds = sorted({seed for cell in cells for seed in cell.seeds})
    single = {}
    for seed in seeds:  # the winner had the grid been run with this seed alone
        scored = [(cell.values[cell.seeds.index(seed)], cell.strategy) for cell in cells if seed in cell.seeds]
        single[seed] = max(scored)[1]
    out["single_seed_winners"] = single
    out["single_seed_agrees"] = sum(w == winner for w in single.values())
    if len(cells) > 1 and report.noise is not None:
        c = report.noise.compare((cells[0].model, cells[0].strategy), (cells[1].model, cells[1].strategy))
        out["top_two"] = {"first": cells[0].strategy, "second": cells[1].strategy, "difference": c.difference, "low": c.low,
                          "high": c.high, "p_better": c.p_better, "significant": c.significant, "rows": c.rows,
                          "rows_to_settle": c.rows_to_settle(), "seeds_to_settle": c.seeds_to_settle()}  # fmt: skip
    lines = [
        f"CPU: {cpu_name()}",
        "",
        "| strategy | best val/acc mean ± sd (n) | 95 % interval | test/acc | per seed |",
        "|---|--:|--:|--:|---|",
    ]
    for cell in out["cells"]:
        interval = f"{cell['interval'][0]:.4f} to {cell['interval'][1]:.4f}" if cell["interval"] else ""
        per_seed = ", ".join(f"{s}: {v:.4f}" for s, v in zip(cell["seeds"], cell["values"]))
        lines.append(f"| {cell['strategy']} | {cell['mean']:.4f} ± {cell['sd']:.4f} ({cell['n']}) | {interval} | "
                     f"{cell['test'].get('test/acc', float('nan')):.4f} | {per_seed} |")  # fmt: skip
    lines += ["", f"single-seed winners: {single}; agree with the 3-seed winner ({winner}): {out['single_seed_agrees']} of {len(seeds)}"]
    if "top_two" in out:
        lines.append(f"top two: {json.dumps(out['top_two'])}")
    lines += ["", out["recommendation"], f"report built in {report_s:.2f} s"]
    print("\n".join(lines))
    return out


def search(out: Path, trials: int, confirm: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "sweep.run", "-m", "search=optuna", "model=minilm_l3", f"search.n_trials={trials}",
        f"search.confirm={confirm}", "search.confirm_top=3", "search.study_name=bench_confirm",
        f"paths.cache_dir={ROOT / 'outputs' / 'cache'}",
    ]  # fmt: skip
    began = time.perf_counter()
    done = subprocess.run(command, cwd=out, capture_output=True, text=True)
    wall = time.perf_counter() - began
    (out / "search.log").write_text(done.stdout + done.stderr)
    client = client_of(out / "outputs" / "mlflow.db")
    parents = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id], "tags.`sweep.kind` = 'optuna'")]
    parent = parents[0]
    confirm_md = Path(client.download_artifacts(parent.info.run_id, "search/confirm.md", str(out)))
    text = confirm_md.read_text()
    print(f"CPU: {cpu_name()}\nexit {done.returncode}, wall {wall:.0f} s\n\n{text}")
    return {"exit": done.returncode, "wall_s": wall, "confirm_md": text}


def cost(store: Path | None) -> dict:
    import numpy as np

    from lightning_modules.examples import ExampleTable
    from lightning_modules.objectives import CLASSIFICATION_FORMULAS
    from lightning_modules.text_statistics import bleu_statistics
    from sweep.report.intervals import Bootstrap

    result: dict = {"cpu": cpu_name()}
    if store is not None:
        client = client_of(store)
        runs = [
            r for e in client.search_experiments() for r in client.search_runs([e.experiment_id]) if "predictions_bytes" in r.data.metrics
        ]
        sizes = [r.data.metrics["predictions_bytes"] for r in runs]
        seconds = [r.data.metrics["predictions_s"] for r in runs]
        rows = [r.data.metrics.get("data_val_rows", 0) + r.data.metrics.get("data_test_rows", 0) for r in runs]
        train_s = [r.data.metrics["train_time_s"] for r in runs]
        result["runs"] = {"n": len(runs), "bytes_median": statistics.median(sizes), "seconds_median": statistics.median(seconds),
                          "rows_median": statistics.median(rows), "train_s_median": statistics.median(train_s)}  # fmt: skip
    rng = np.random.default_rng(0)
    n = 10_000

    def tables(columns_for, formulas) -> dict:
        return {cell: [ExampleTable(np.arange(n), columns_for(), formulas) for _ in range(3)] for cell in ("a", "b")}

    def accuracy():
        correct = (rng.random(n) < 0.8).astype(float)
        return {"correct": correct, "count": np.ones(n)}

    def macro():
        pred, gold = rng.integers(0, 10, n), rng.integers(0, 10, n)
        one = np.eye(10)
        return {"tp": one[pred] * one[gold], "fp": one[pred] * (1 - one[gold]), "fn": (1 - one[pred]) * one[gold]}

    def ranks():
        x = rng.normal(size=n)
        return {"prediction": x, "target": x + rng.normal(size=n)}

    words = "the of and to in is for on that with by from at as be this are or an it".split()
    texts = [" ".join(rng.choice(words, 12)) for _ in range(n)]
    bleu_columns = {"bleu_statistics": bleu_statistics(texts, texts[1:] + texts[:1]), "generated": np.ones(n)}
    cases = {
        "accuracy": (accuracy, {"m": CLASSIFICATION_FORMULAS["acc"]}),
        "macro-F1, 10 classes": (macro, {"m": CLASSIFICATION_FORMULAS["f1"]}),
        "Spearman": (ranks, {"m": ["spearman", "prediction", "target"]}),
        "corpus BLEU": (lambda: bleu_columns, {"m": ["bleu", "bleu_statistics"]}),
    }
    timings = {}
    for name, (columns_for, formulas) in cases.items():
        built = tables(columns_for, formulas)
        began = time.perf_counter()
        noise = Bootstrap(built, "m", 1.0, resamples=1000)
        noise.compare("a", "b")
        timings[name] = time.perf_counter() - began
        size = len(built["a"][0].to_bytes())
        timings[f"{name} artifact bytes per 10k rows"] = size
    result["bootstrap_10k_rows_1000_resamples_2_cells_x_3_seeds_s"] = timings
    print(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["grid", "search", "cost"])
    parser.add_argument("--store", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_confirm"))
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--confirm", type=int, default=3)
    args = parser.parse_args(argv)
    if args.part == "grid":
        found = grid(args.store)
    elif args.part == "search":
        found = search(args.out, args.trials, args.confirm)
    else:
        found = cost(args.store)
    (Path("/tmp") / f"bench_error_bars_{args.part}.json").write_text(json.dumps(found, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
