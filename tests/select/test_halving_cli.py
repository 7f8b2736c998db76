"""``python -m sweep.select select.method=halving`` through the real CLI on tiny models and a real MLflow store: one
child run per arm and round, the ranking printed beside LogME's, the tau against a real grid, bad input, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import TINY_DATA, run_cli
from tests.select.test_halving import refused_pair
from tests.select.test_select_cli import run_select, store, table_rows

pytestmark = pytest.mark.slow

CANDIDATES = ["tiny_bert", "tiny_gpt2", "tiny_llama"]


def test_halving_trains_arms_as_child_runs_and_compares_with_logme_and_the_grid(tmp_path, cache_dir):
    grid = run_cli("-m", f"model={','.join(CANDIDATES)}", "strategy=feature", *TINY_DATA, cwd=tmp_path, cache=cache_dir)
    assert grid.returncode == 0, grid.stderr[-3000:]
    args = ["select.method=halving", f"candidates=[{','.join(CANDIDATES)}]", "select.min_steps=2", "scores=[logme]", *TINY_DATA]
    result = run_select(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "by successive halving: 3 candidate(s) x 1 strategy(ies) (lora) = 3 arm(s); budgets 2, 4 optimizer steps" in out
    assert "wall time" in out and "one arm left" in out

    client, runs = store(tmp_path)
    [selection] = [run for run in runs if run.data.tags.get("sweep.kind") == "select"]
    assert selection.info.status == "FINISHED" and selection.data.tags["select.method"] == "halving"
    arms = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == selection.info.run_id]
    assert all(run.info.status == "FINISHED" and run.data.tags["sweep.kind"] == "halving" for run in arms)
    by_round = {}
    for run in arms:
        by_round.setdefault(int(run.data.tags["select.round"]), []).append(run)
    assert sorted(by_round) == [0, 1] and len(by_round[0]) == 3 and len(by_round[1]) == 2  # ceil(3 / 2) kept
    assert {run.data.tags["select.arm"] for run in by_round[0]} == {f"{model}-lora" for model in CANDIDATES}
    assert all(run.data.metrics["optimizer_steps"] == 2 * 2 ** int(run.data.tags["select.round"]) for run in arms)
    assert all(run.data.tags["model"] in CANDIDATES and run.data.tags["strategy"] == "lora" for run in arms)

    # the halving table: round 1's two arms first, by their value, then round 0's third
    rows = table_rows(out.split("\n\n| model")[0])
    assert [row[0] for row in rows] == ["1", "2", "3"] and [row[3] for row in rows] == ["1", "1", "0"]
    value = {run.data.tags["select.arm"]: run.data.metrics["best_val/acc"] for run in by_round[1]}
    assert float(rows[0][5]) == pytest.approx(value[f"{rows[0][1]}-lora"], abs=1e-4)
    assert float(rows[0][5]) >= float(rows[1][5])
    assert selection.data.metrics[f"halving_rank/{rows[0][1]}-lora"] == 1 and selection.data.tags["select.top"] == rows[0][1]

    # the truth is the grid's feature jobs, not the arms (tagged sweep.kind=halving)
    grid_best = {run.data.tags["model"]: run.data.metrics["best_val/acc"] for run in runs if run.data.tags.get("strategy") == "feature"}
    assert "weighted Kendall tau between the halving ranking and the fine-tuned ranking" in out and "3 of 3 candidates" in out
    fine_tuned = {row[1]: float(row[-3]) for row in rows}
    assert fine_tuned == pytest.approx(grid_best, abs=1e-4)
    assert "weighted_tau/halving" in selection.data.metrics and "weighted_tau/logme" in selection.data.metrics
    # LogME's ranking beside halving's, and whether they agree
    assert "| model" in out and "logme rank" in out and "halving rank" in out
    assert ("disagree: LogME puts" in out) or ("agree: LogME and halving both put" in out)
    artifacts = {item.path for item in client.list_artifacts(selection.info.run_id)}
    assert {"select.md", "select.csv"} <= artifacts


def bad_inputs() -> list:
    cases = [
        (["select.method=nope"], "error: select.method=nope: must be one of scores, halving\n"),
        (["select.eta=1"], "error: select.eta=1: must be >= 2 (keep the best 1/eta of the arms each round)\n"),
        (["select.min_steps=0"], "error: select.min_steps=0: must be >= 1 (optimizer steps of round 0)\n"),
        (["select.strategy=nope"], "error: select.strategy=nope: unknown strategy nope; choose from "),
    ]
    pair = refused_pair()
    if pair is not None:
        model, strategy = pair
        cases.append(([f"candidates=[{model}]", f"select.strategy={strategy}"], f"error: select.strategy={strategy}: candidate {model} x "))
    return cases


@pytest.mark.parametrize("args, message", bad_inputs())
def test_bad_input_is_one_line_exit_2_and_nothing_recorded(tmp_path, cache_dir, args, message):
    base = ["select.method=halving", "candidates=[tiny_bert]", "scores=[]"]
    result = run_select(*base, *args, *TINY_DATA, cwd=tmp_path, cache=tmp_path / "cache", timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "outputs" / "mlflow.db").exists()


def test_sigterm_during_an_arm_leaves_nothing_running(tmp_path, cache_dir):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    args = ["select.method=halving", "candidates=[tiny_bert,tiny_gpt2]", "select.min_steps=2000", "scores=[]", *TINY_DATA]
    command = [sys.executable, "-m", "sweep.select", *args, f"paths.cache_dir={cache_dir}"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    deadline = time.monotonic() + 300
    for line in process.stdout:  # the arm's job logs this line once its run is open
        seen.append(line)
        if "job -: tiny_bert x lora" in line or time.monotonic() > deadline:
            break
    time.sleep(2.0)  # training
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=120)
    output = "".join(seen) + rest
    assert process.returncode == 143, output[-3000:]
    assert "nothing is left RUNNING" in output
    _, runs = store(tmp_path)
    assert runs and all(run.info.status != "RUNNING" for run in runs)
    states = {run.data.tags.get("sweep.kind"): run.data.tags["state"] for run in runs}
    assert states == {"select": "interrupted", "halving": "interrupted"}
