"""``python -m sweep.report`` on real sweeps: a grid and a search through the real CLI (tiny_bert on a few
rows of Rotten Tomatoes), a real sqlite MLflow store, the report as a subprocess as a user types it."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_DATA, run_cli

pytestmark = pytest.mark.slow
STRATEGIES = ("full", "lora", "feature")


def run_report(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "sweep.report", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def client_of(cwd: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{cwd / 'outputs' / 'mlflow.db'}")


def all_runs(cwd: Path) -> list:
    client = client_of(cwd)
    return client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=1000)


@pytest.fixture(scope="module")
def grid(tmp_path_factory, cache_dir):
    """One grid of three strategies, two seeds each; its parent run and children."""
    cwd = tmp_path_factory.mktemp("grid")
    result = run_cli("-m", "model=tiny_bert", f"strategy={','.join(STRATEGIES)}", "seed=0,1", *TINY_DATA, cwd=cwd, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = all_runs(cwd)
    (parent,) = [r for r in runs if r.data.tags.get("sweep.kind") == "grid"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.data.tags["strategy"] for r in children) == sorted(STRATEGIES * 2)
    return cwd, result, parent, children


def by_strategy(children) -> dict[str, list]:
    """Each strategy's runs, seed 0 first."""
    out: dict[str, list] = {}
    for run in sorted(children, key=lambda r: r.data.params["seed"]):
        out.setdefault(run.data.tags["strategy"], []).append(run)
    return out


def mean_of(runs, metric: str) -> float:
    return sum(r.data.metrics[metric] for r in runs) / len(runs)


def expected_best(children) -> str:
    """The best strategy by its mean best_val/acc over seeds; a tie goes to the smaller trainable share (the report's rule)."""
    cells = by_strategy(children)
    best = min(cells, key=lambda s: (-mean_of(cells[s], "best_val/acc"), cells[s][0].data.metrics["params_trainable_share"]))
    return f"{best} on tiny_bert"


def test_the_grid_ends_with_the_recommendation(grid):
    cwd, result, parent, children = grid
    out = result.stdout
    table_end = out.index("| tiny_bert-")  # the comparison table comes first
    best = expected_best(children)
    line = next(line for line in out.splitlines() if line.startswith("Best: "))
    assert out.index(line) > table_end
    assert line.startswith(f"Best: {best} (val/acc ")
    assert f"python -m sweep.report report.parent={parent.info.run_id}" in out
    tags = client_of(cwd).get_run(parent.info.run_id).data.tags
    assert tags["report.recommendation"] == line
    note = tags["mlflow.note.content"]
    assert note.startswith(f"**Recommendation.** {line}\n\nOver seeds (mean ± sd):\n\n| model ")  # above the comparison tables
    assert "\n\nEach run:\n\n| run " in note and all(f"tiny_bert-{s}-" in note for s in STRATEGIES)
    # the leaders compared on the same rows: told apart or not, with the interval of their difference
    assert re.search(r"(cannot be told apart|beyond noise): .*95 % interval -?[\d.]+ to [+-][\d.]+ points; P\(better\) [\d.]+", line)
    # each run kept its per-example predictions of the best validation and of the test
    client = client_of(cwd)
    for child in children:
        assert {Path(f.path).name for f in client.list_artifacts(child.info.run_id, "predictions")} == {"val.npz", "test.npz"}
        assert 0 < child.data.metrics["predictions_bytes"] < 20_000


def test_report_on_the_grid_writes_markdown_html_with_plots_and_logs_them_on_the_parent(grid):
    cwd, _, parent, children = grid
    parent_id = parent.info.run_id
    result = run_report(f"report.parent={parent_id}", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = cwd / "outputs" / "reports" / parent.info.run_name
    markdown = (folder / "report.md").read_text()
    html = (folder / "report.html").read_text()
    best = expected_best(children)
    rec = result.stdout.splitlines()[0]
    assert rec.startswith(f"Best: {best} (val/acc ") and f"**Recommendation.** {rec}" in markdown
    for strategy, runs in by_strategy(children).items():  # one row per strategy: the mean ± sd of its two seeds, then each seed's
        values = [r.data.metrics["best_val/acc"] for r in runs]
        sd = abs(values[0] - values[1]) / 2**0.5
        row = next(line for line in markdown.splitlines() if line.startswith(f"| tiny_bert | {strategy} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[2] == f"{mean_of(runs, 'best_val/acc'):.4f} ± {sd:.4f}"
        low, high = (float(x) for x in cells[3].split(" to "))  # the bootstrap interval over rows and seeds
        assert low - 1e-9 <= mean_of(runs, "best_val/acc") <= high + 1e-9
        assert cells[4].startswith(f"{mean_of(runs, 'test/acc'):.4f} (") and cells[5] == f"{mean_of(runs, 'test/f1'):.4f}"
        assert cells[9] == "2"  # two runs
        for run in runs:
            assert f"|  | seed {run.data.params['seed']} | {run.data.metrics['best_val/acc']:.4f} |" in markdown
    assert "## Pareto fronts" in markdown and "- trainable share: " in markdown
    # the plots: PNG files beside report.md, and inside report.html
    for name in ("metric_vs_share.png", "metric_vs_time.png", "metric_vs_memory.png"):
        assert f"]({name})" in markdown and (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert (folder / "seeds.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # every seed of every cell
    assert len(embedded) == 4 and all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for data in embedded)
    assert "<img" in html and 'src="metric_vs' not in html  # self-contained: no file references
    # logged on the grid's parent run, the Markdown as its Description
    client = client_of(cwd)
    logged = {Path(f.path).name for f in client.list_artifacts(parent_id, "report")}
    assert {"report.md", "report.html", "metric_vs_share.png", "metric_vs_time.png"} <= logged
    tags = client.get_run(parent_id).data.tags
    assert tags["mlflow.note.content"].startswith(f"**Which model, which strategy.** {rec}")
    assert len(tags["mlflow.note.content"]) <= 8000 and tags["report.best"] == best
    assert f"logged on run {parent_id}" in result.stdout


def test_constraints_and_nothing_meeting_them(grid):
    cwd, _, parent, _ = grid
    parent_arg = f"report.parent={parent.info.run_id}"
    # tiny_bert: feature trains 66 of ~1M parameters (0.0066 %), lora 0.21 %, full 100 %
    result = run_report(parent_arg, "report.max_trainable_share=0.001", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.match(r"With at most 0\.1 % trainable parameters: feature on tiny_bert[ ,]", result.stdout)  # only feature is under it
    result = run_report(parent_arg, "report.max_trainable_share=0.00001", "report.max_train_s=1000", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    first = result.stdout.splitlines()[0]
    assert first.startswith("Nothing meets the constraints (at most 0.001 % trainable parameters and at most 17 min of training)")
    assert "the smallest trainable share is 0.0066 % (feature on tiny_bert)" in first


def test_report_on_the_experiment_is_a_run_of_its_own(grid, tmp_path):
    cwd = grid[0]
    before = len(all_runs(cwd))
    for _ in range(2):  # the second report does not count the first one's run as a job
        result = run_report(f"report.out={tmp_path}", cwd=cwd)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "6 run(s) (6 finished)" in (tmp_path / "report.md").read_text()
    runs = all_runs(cwd)
    reports = [r for r in runs if r.data.tags.get("sweep.kind") == "report"]
    assert len(runs) == before + 2 and len(reports) == 2
    assert all(r.info.status == "FINISHED" and r.data.tags["mlflow.note.content"].startswith("**Which model") for r in reports)
    logged = {Path(f.path).name for f in client_of(cwd).list_artifacts(reports[0].info.run_id, "report")}
    assert {"report.md", "report.html"} <= logged


@pytest.mark.parametrize(
    "args, line",
    [
        (
            ["tracking.experiment=nope"],
            r"error: tracking\.experiment=nope: no such experiment in sqlite:///.*; experiments: Default, .*sweep",
        ),
        (["report.parent=0123456789abcdef0123456789abcdef"], r"error: report\.parent=0123456789abcdef0123456789abcdef: no such run in "),
        (["report.study=nope"], r"error: report\.study=nope: no study of that name in experiment sweep; studies: \(none\)$"),
        (["report.max_trainable_share=-0.1"], r"error: report\.max_trainable_share=-0\.1: must be in \(0, 1\], or null for no limit$"),
        (["report.max_train_s=0"], r"error: report\.max_train_s=0\.0: must be > 0, or null for no limit$"),
        (["report.max_memory_mb=lots"], r"error: report\.max_memory_mb: .*"),
        (["report.tolerance=-1"], r"error: report\.tolerance=-1\.0: must be >= 0$"),
        (["report.confidence=95"], r"error: report\.confidence=95\.0: must be in \(0, 1\), e\.g\. 0\.95$"),
        (["report.resamples=10"], r"error: report\.resamples=10: must be 0 \(no intervals\) or >= 100$"),
        (["report.cost=money"], r"error: report\.cost=money: must be one of share, time, memory$"),
        (["report.task=imdb"], r"error: report\.task=imdb: no runs of this task here; tasks: rotten_tomatoes$"),
        (["report.metric=val/f1"], r"error: report\.metric=val/f1: no finished run logs best_val/f1; they log best_val/acc$"),
        (["report.metric=test/acc"], r"error: report\.metric=test/acc: choosing on test/\* would tune on the test set$"),
        (["report.nope=1"], r"error: .*report\.nope.*"),
        (["tracking=nope"], r"error: tracking=nope: unknown; choose from local, server$"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_recorded(grid, tmp_path, args, line):
    cwd = grid[0]
    before = len(all_runs(cwd))
    result = run_report(*args, f"report.out={tmp_path / 'out'}", cwd=cwd)
    assert result.returncode == 2, result.stdout + result.stderr
    assert re.match(line, result.stderr.strip()), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert len(all_runs(cwd)) == before and not (tmp_path / "out").exists()


def test_no_store_and_no_finished_runs_exit_2(grid, tmp_path):
    cwd = grid[0]
    missing = tmp_path / "none.db"
    result = run_report(f"tracking.uri=sqlite:///{missing}", cwd=cwd)
    assert result.returncode == 2 and result.stderr.startswith(f"error: tracking.uri=sqlite:///{missing}: no MLflow store there")
    assert not missing.exists()  # not created by looking
    client = client_of(cwd)
    empty = client.create_experiment("empty")
    result = run_report("tracking.experiment=empty", cwd=cwd)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: tracking.experiment=empty: no finished runs to compare (no fine-tuning runs at all)"
    failed = client.create_experiment("failed_only")  # a job whose run ended failed, as sweep.run records one
    run = client.create_run(failed, tags={"model": "tiny_bert", "strategy": "lora", "task": "rotten_tomatoes", "state": "failed"})
    client.set_terminated(run.info.run_id, "FAILED")
    result = run_report("tracking.experiment=failed_only", cwd=cwd)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: tracking.experiment=failed_only: no finished runs to compare (1 failed)"
    assert not client.search_runs([empty]) and len(client.search_runs([failed])) == 1


def test_help_is_fast_and_imports_nothing_heavy(tmp_path):
    probe = "import sys, runpy; sys.argv = ['x', '--help']\ntry:\n    runpy.run_module('sweep.report', run_name='__main__')\n"
    probe += "except SystemExit:\n    pass\nprint(sorted(m for m in ('mlflow', 'matplotlib', 'torch', 'hydra') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "usage: python -m sweep.report" in result.stdout and result.stdout.strip().endswith("[]")


def test_a_search_ends_with_the_recommendation_and_reports_by_study(tmp_path, cache_dir):
    args = ["-m", "search=optuna", "model=tiny_bert", "search.n_trials=3", "search.space.strategy=choice(full,feature)", *TINY_DATA]
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^Best: (full|feature) on tiny_bert \(val/acc ", result.stdout, re.M)
    runs = all_runs(tmp_path)
    (parent,) = [r for r in runs if r.data.tags.get("sweep.kind") == "optuna"]
    study = parent.data.tags["optuna.study"]
    report = run_report(f"report.study={study}", cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    markdown = (tmp_path / "outputs" / "reports" / study / "report.md").read_text()
    assert f"# Which model, which strategy: study {study}" in markdown and "3 run(s)" in markdown
    logged = {Path(f.path).name for f in client_of(tmp_path).list_artifacts(parent.info.run_id, "report")}
    assert {"report.md", "report.html"} <= logged
