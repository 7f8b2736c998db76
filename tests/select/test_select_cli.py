"""``python -m sweep.select`` through the real CLI, on real (tiny and packaged) models and real MLflow
stores: the ranking printed and recorded, the feature cache shared with ``strategy=feature`` both ways,
the weighted Kendall tau against a real grid's fine-tuned runs, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY_DATA, run_cli

pytestmark = pytest.mark.slow

CANDIDATES = ["tiny_bert", "tiny_gpt2", "minilm_l3"]


def run_select(*args: str, cwd: Path, cache: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "sweep.select", *args, f"paths.cache_dir={cache}"]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def store(cwd: Path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{cwd / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep")
    return client, client.search_runs([experiment.experiment_id], max_results=1000)


def select_runs(cwd: Path):
    client, runs = store(cwd)
    return client, [run for run in runs if run.data.tags.get("sweep.kind") == "select"]


def fresh_cache(folder: Path, session_cache: Path) -> Path:
    """A cache without features, sharing the session's converted checkpoints (MiniLM-L3 is rebuilt once)."""
    (session_cache / "zoo").mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True)
    (folder / "zoo").symlink_to(session_cache / "zoo")
    return folder


def feature_files(cache: Path) -> dict[str, np.ndarray]:
    return {path.name: np.load(path) for path in sorted((cache / "features").glob("*.npy"))}


def table_rows(stdout: str) -> list[list[str]]:
    """The ranked table's body rows, split into cells."""
    lines = [line for line in stdout.splitlines() if line.startswith("| ") and not line.startswith("| rank")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_select_ranks_records_and_shares_the_feature_cache_with_strategy_feature(tmp_path, cache_dir):
    """Cold: computes every candidate's features (the same file, the same values, as a feature job's); a
    feature job then finds the training split's features in the cache; select again reads them all."""
    cache = fresh_cache(tmp_path / "cache", cache_dir)
    first = run_select(f"candidates=[{','.join(CANDIDATES)}]", *TINY_DATA, cwd=tmp_path, cache=cache)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = table_rows(first.stdout)
    assert [row[0] for row in rows] == ["1", "2", "3"] and sorted(row[1] for row in rows) == sorted(CANDIDATES)
    assert all(row[-1] == "no" for row in rows)  # computed
    assert all(f"{model}: computing features" in first.stdout for model in CANDIDATES)  # Hydra logs to stdout
    logme = [float(row[2]) for row in rows]
    assert logme == sorted(logme, reverse=True)  # ranked by logme, best first
    assert "weighted Kendall tau: not computed: 0 of 3 candidates have fine-tuned results" in first.stdout
    assert "Xeon" in first.stdout or "cores" in first.stdout  # the CPU the seconds were measured on

    client, runs = select_runs(tmp_path)
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.data.tags["state"] == "finished"
    assert run.data.tags["task"] == "rotten_tomatoes" and "model" not in run.data.tags  # no fine-tuning run's tags
    for model in CANDIDATES:
        for key in ("logme", "hscore", "knn", "rank", "seconds", "dimensions"):
            assert f"{key}/{model}" in run.data.metrics
    assert run.data.metrics[f"rank/{rows[0][1]}"] == 1 and run.data.metrics["rows"] == 64
    assert run.data.metrics["dimensions/minilm_l3"] == 384 and run.data.metrics["dimensions/tiny_bert"] == 32
    assert "weighted_tau" not in run.data.metrics
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"select.md", "select.csv"} <= artifacts
    note = run.data.tags["mlflow.note.content"]
    assert "| rank" in note and "minilm_l3" in note and "not computed" in note
    computed = feature_files(cache)
    assert len(computed) == 3  # one training split per candidate

    # the same features as strategy=feature computes: one job per model in a cache of its own
    other = fresh_cache(tmp_path / "job_cache", cache_dir)
    (tmp_path / "jobs").mkdir()  # their own store: the select runs below count only this folder's
    models = ",".join(CANDIDATES)
    jobs = run_cli("-m", f"model={models}", "strategy=feature", *TINY_DATA, "trainer.max_epochs=1", cwd=tmp_path / "jobs", cache=other)
    assert jobs.returncode == 0, jobs.stderr[-3000:]
    by_job = feature_files(other)
    assert set(computed) <= set(by_job)  # the same cache keys: the training split's file of each model
    for name, features in computed.items():
        assert np.allclose(features, by_job[name], atol=1e-5)

    # and a feature job finds what select computed
    job = run_cli("model=tiny_gpt2", "strategy=feature", *TINY_DATA, "trainer.max_epochs=1", cwd=tmp_path, cache=cache)
    assert job.returncode == 0, job.stderr[-3000:]
    _, runs = store(tmp_path)
    [fine_tuned] = [run for run in runs if run.data.tags.get("strategy") == "feature"]
    assert fine_tuned.data.metrics["prepare_feature_cache_hits"] == 1  # train from select; val and test computed

    again = run_select(f"candidates=[{','.join(CANDIDATES)}]", *TINY_DATA, cwd=tmp_path, cache=cache)
    assert again.returncode == 0, again.stderr[-3000:]
    rows_again = table_rows(again.stdout)
    assert all(row[-1] == "yes" for row in rows_again)
    assert "computing features" not in again.stdout  # no backbone loaded at all
    assert [row[:5] for row in rows_again] == [row[:5] for row in rows]  # same ranking, same scores
    assert len(select_runs(tmp_path)[1]) == 2


def test_the_ranking_is_compared_with_a_real_grid_by_weighted_kendall_tau(tmp_path, cache_dir):
    from scipy.stats import weightedtau

    grid = run_cli(
        "-m", f"model={','.join(CANDIDATES)}", "strategy=feature", *TINY_DATA, "trainer.max_epochs=2", cwd=tmp_path, cache=cache_dir
    )
    assert grid.returncode == 0, grid.stderr[-3000:]
    result = run_select(f"candidates=[{','.join(CANDIDATES)}]", "scores=[logme,knn]", *TINY_DATA, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "weighted Kendall tau between the logme ranking and the fine-tuned ranking" in result.stdout
    assert "3 of 3 candidates" in result.stdout and "fine-tuned best_val/acc" in result.stdout

    _, runs = store(tmp_path)
    [selection] = [run for run in runs if run.data.tags.get("sweep.kind") == "select"]
    jobs = [run for run in runs if run.data.tags.get("strategy") == "feature"]
    assert len(jobs) == 3
    best = {run.data.tags["model"]: run.data.metrics["best_val/acc"] for run in jobs}
    metrics = selection.data.metrics
    for score in ("logme", "knn"):
        expected = weightedtau([metrics[f"{score}/{model}"] for model in CANDIDATES], [best[model] for model in CANDIDATES]).statistic
        assert metrics[f"weighted_tau/{score}"] == pytest.approx(expected)
    assert metrics["weighted_tau"] == metrics["weighted_tau/logme"]
    assert f"{metrics['weighted_tau']:.3f}" in result.stdout
    rows = {row[1]: row for row in table_rows(result.stdout)}
    for model in CANDIDATES:
        assert float(rows[model][4]) == pytest.approx(best[model], abs=1e-4)  # the fine-tuned column

    # a metric no run logged, and one candidate without runs: said so, no tau
    fewer = run_select("candidates=[tiny_bert,tiny_llama]", "scores=[logme]", *TINY_DATA, cwd=tmp_path, cache=cache_dir)
    assert fewer.returncode == 0, fewer.stderr[-3000:]
    assert "weighted Kendall tau: not computed: 1 of 2 candidates have fine-tuned results" in fewer.stdout


@pytest.fixture(scope="module")
def one_class_csv(tmp_path_factory) -> Path:
    """Two labels in the file, but the second only in validation and test rows."""
    path = tmp_path_factory.mktemp("data") / "one_class.csv"
    rows = ["text,label,split"] + [f"good film number {i},pos,train" for i in range(20)]
    rows += [f"bad film number {i},neg,{'val' if i % 2 else 'test'}" for i in range(10)]
    path.write_text("\n".join(rows) + "\n")
    return path


MODELS = (
    "choose from minilm_l3, minilm_l6, minilm_l6_scratch, saved, smollm2_135m, t5_small_scratch, tiny_bert, tiny_gpt2, tiny_llama, "
    "tiny_t5, tiny_vit"
)
SCORE_NAMES = "hscore, knn, linear, logme"
TEXT_MODELS = (
    "models that fit: minilm_l3, minilm_l6, minilm_l6_scratch, smollm2_135m, t5_small_scratch, tiny_bert, tiny_gpt2, tiny_llama, tiny_t5"
)


@pytest.mark.parametrize(
    "args, message",
    [
        (["candidates=[]"], f"error: candidates=[]: needs at least one model; {MODELS}, vit_small"),
        (["candidates=[tiny_bert,nope]"], f"error: candidates=['tiny_bert', 'nope']: unknown model nope; {MODELS}, vit_small"),
        (["candidates=[tiny_bert,tiny_bert]"], "error: candidates=['tiny_bert', 'tiny_bert']: must not repeat a model"),
        (
            ["candidates=[tiny_bert,tiny_vit]"],
            "error: candidates=['tiny_bert', 'tiny_vit']: tiny_vit has no usable pooled representation here: model=tiny_vit: "
            f"model tiny_vit (family vision) reads image, task rotten_tomatoes has text rows; choose a model of family decoder or encoder "
            f"or encoder_decoder; {TEXT_MODELS}",
        ),
        (["candidates=[minilm_l6]", "task=digits"], "error: candidates=['minilm_l6']: minilm_l6 has no usable pooled representation here"),
        (
            ["candidates=[saved]"],
            "error: candidates=['saved']: saved has no usable pooled representation here: model.source=runs:/<run_id>",
        ),
        (
            ["candidates=[tiny_bert]", "scores=[logme,nope]"],
            "error: scores=['logme', 'nope']: unknown score nope; known: hscore, knn, linear, logme",
        ),
        (["candidates=[tiny_bert]", "scores=[]"], "error: scores=[]: needs at least one score; known: hscore, knn, linear, logme"),
        (["candidates=[tiny_bert]", "select.mode=up"], "error: select.mode=up: must be one of max, min"),
        (["candidates=[tiny_bert]", "task=multi"], "error: task=multi: select scores one task at a time"),
        (["candidates=[tiny_bert]", "task=nope"], "error: task=nope: unknown; choose from chatterbot_qa, conll, csv, debian_synopsis"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_recorded(tmp_path, cache_dir, args, message):
    result = run_select(*args, *TINY_DATA, cwd=tmp_path, cache=tmp_path / "cache", timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "outputs" / "mlflow.db").exists() and not (tmp_path / "cache" / "features").exists()


def test_a_task_whose_training_split_has_one_class_is_refused(tmp_path, cache_dir, one_class_csv):
    args = ["candidates=[tiny_bert]", "task=csv", f"task.path={one_class_csv}", "task.split_column=split"]
    result = run_select(*args, cwd=tmp_path, cache=cache_dir, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == "error: task=csv: its training split has one class ['pos']: transferability needs at least two\n"
    assert not (tmp_path / "outputs" / "mlflow.db").exists()


def test_help_answers_at_once(tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "sweep.select", "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0 and "candidates" in result.stdout and "select" in result.stdout
    assert time.monotonic() - started < 10
