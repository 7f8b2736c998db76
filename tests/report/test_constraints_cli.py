"""End to end, through the real CLIs: a search with search.target and search.constraints stops right after the trial
that reaches its target, says why on its parent, tags its trial's constraint values; then ``python -m sweep.report
report.study=<study>`` takes the search's constraints as its limits and says so."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TINY_DATA, run_cli
from tests.report.test_report_cli import client_of, run_report

pytestmark = pytest.mark.slow


def test_a_search_stops_at_its_target_and_the_report_honours_its_constraints(tmp_path, cache_dir):
    args = ["-m", "search=optuna", "model=tiny_bert", "strategy=lora", *TINY_DATA, "search.n_trials=3", "search.target=0.0",
            "+search.constraints.trainable_share=0.9", "+search.constraints.train_s=600"]  # fmt: skip
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stopped: search.target=0: reached by trial 0 (val/acc " in result.stdout

    client = client_of(tmp_path)
    runs = client.search_runs([client.get_experiment_by_name("sweep").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("sweep.kind") == "optuna"]
    (trial,) = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]  # none after the target
    tags = parent.data.tags
    assert tags["search.stop_reason"].startswith("search.target=0: reached by trial 0") and parent.info.status == "FINISHED"
    assert "stopped: search.target=0: reached by trial 0" in tags["mlflow.note.content"]
    assert json.loads(tags["search.constraints"]) == {"train_s": 600, "trainable_share": 0.9}
    assert trial.data.tags["constraint.feasible"] == "true" and float(trial.data.tags["constraint.train_s"]) < 0

    report = run_report(f"report.study={tags['optuna.study']}", "report.resamples=0", cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    md = next((tmp_path / "outputs" / "reports").glob("*/report.md")).read_text()
    assert "at most 90 % trainable parameters (search.constraints.trainable_share of the study's parent run " in md
    assert "at most 10 min of training (search.constraints.train_s of the study's parent run " in md
