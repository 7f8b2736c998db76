"""Two nights of ``python -m sweep.nightly`` through real SLURM (two trials at a time, each a SLURM job),
one PostgreSQL study per night, recorded on the MLflow server; the second night regresses on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.test_nightly import FROZEN_FULL

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster"), pytest.mark.slow]  # one worker: one cluster
LOSS = ["search.metrics=[val/loss]", "search.directions=[minimize]"]
LEARNING_FULL = "+search.strategy_spaces.full={optim.lr:{low:1e-4,high:2e-4,log:true}}"
L3_ROWS = ["task.train_size=192", "task.val_size=64", "task.test_size=32", "optim.batch_size=16", "trainer.max_epochs=2"]


def nightly(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "sweep.nightly", *args, f"paths.cache_dir={cache}"]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)


def test_two_nights_on_slurm_postgresql_and_an_mlflow_server(cluster, tmp_path, cache_dir):
    import optuna
    from mlflow.tracking import MlflowClient

    from sweep.nightly.matrix import cell_of

    tag = uuid.uuid4().hex[:8]
    prefix, experiment = f"night-{tag}", f"nightly-test-{tag}"
    on_cluster = [
        "cluster=local_slurm", "search.n_jobs=2", f"search.storage={cluster.storage_url}", f"tracking.uri={cluster.tracking_uri}",
        f"tracking.experiment={experiment}", f"nightly.study_prefix={prefix}", "nightly.models=[minilm_l3]", *L3_ROWS,
    ]  # fmt: skip
    # night 1: full fine-tuning learns (its own lr range), partial cannot (the base range: lr 1e-9); compared
    # across the night's cells on val/loss, the pruner stops the partial trials that start after a full one ended
    started = time.monotonic()
    first = nightly(*on_cluster, "nightly.strategies=[full,partial]", "nightly.trials_per_cell=2", "nightly.date=2026-11-27",
                    *LOSS, "search.prune_within=[]", "search.sampler=random", "+search.pruner_options.n_startup_trials=1",
                    "search.space.optim.lr=choice(1e-9)", LEARNING_FULL, "trainer.early_stopping_patience=null",
                    cwd=tmp_path, cache=cache_dir)  # fmt: skip
    took = time.monotonic() - started
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    print(f"night 1 on SLURM, 4 trials 2 at a time: {took:.0f} s")

    study = optuna.load_study(study_name=f"{prefix}-2026-11-27", storage=cluster.storage_url)
    assert len(study.trials) == 4
    cells = sorted(cell_of(t) for t in study.trials)
    assert cells == [("minilm_l3", "full")] * 2 + [("minilm_l3", "partial")] * 2
    states = {t.state for t in study.trials}
    assert optuna.trial.TrialState.PRUNED in states and states <= {optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE}
    jobs = {t.user_attrs["slurm_job_id"] for t in study.trials}
    assert len(jobs) == 4  # every trial was its own SLURM job

    client = MlflowClient(tracking_uri=cluster.tracking_uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id], max_results=1000)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert parent.info.status == "FINISHED" and parent.data.tags["optuna.study"] == f"{prefix}-2026-11-27"
    assert len(children) == 4 and {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert {r.data.tags["slurm.job"] for r in children} == jobs
    spans = sorted((r.info.start_time, r.info.end_time) for r in children)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), spans  # two at a time

    # night 2: full fine-tuning cannot move its weights any more: a real regression, flagged, exit 3
    second = nightly(*on_cluster, "nightly.strategies=[full,partial]", "nightly.trials_per_cell=1", "nightly.date=2026-11-28",
                     *LOSS, FROZEN_FULL, cwd=tmp_path, cache=cache_dir)  # fmt: skip
    assert second.returncode == 3, second.stdout[-3000:] + second.stderr[-3000:]
    assert "minilm_l3/full (REGRESSION)" in second.stderr
    runs = client.search_runs([experiment_id], filter_string=f"tags.`optuna.study` = '{prefix}-2026-11-28'", max_results=100)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    folder = client.download_artifacts(parent.info.run_id, "nightly", str(tmp_path / "report"))
    report = json.loads((Path(folder) / "report.json").read_text())
    assert report["previous_study"] == f"{prefix}-2026-11-27"
    full = next(row for row in report["rows"] if row["strategy"] == "full")
    assert full["verdict"] == "REGRESSION", report["rows"]
    assert parent.data.tags["nightly.verdict"] == "regression"
