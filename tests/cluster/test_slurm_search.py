"""Searches through real SLURM (sweep.cluster's single node), on a PostgreSQL study, recorded on an
MLflow server: every trial is a SLURM job, two at a time; a cancelled job's trial returns to the budget."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import run_cli
from tests.test_search_cli import L3_SMALL

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster"), pytest.mark.slow]  # one worker: one cluster


def names() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"slurm-{tag}", f"slurm-test-{tag}"


def on_cluster(cluster, study: str, experiment: str) -> list[str]:
    return [
        "-m", "search=optuna", "cluster=local_slurm", "search.n_jobs=2",
        f"search.storage={cluster.storage_url}", f"search.study_name={study}",
        f"tracking.uri={cluster.tracking_uri}", f"tracking.experiment={experiment}",
    ]  # fmt: skip


def load(cluster, study: str):
    import optuna

    return optuna.load_study(study_name=study, storage=cluster.storage_url)


def runs_of(cluster, experiment: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=cluster.tracking_uri)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def counted(study):
    from sweep.search.liveness import counts

    return [t for t in study.trials if counts(t)]


def test_a_cancelled_trial_returns_to_the_budget(cluster, tmp_path, cache_dir):
    """scancel of a running trial's job: its trial fails without counting, the search runs another in
    its place, and running the same command again (resume) finds the budget met exactly."""
    import optuna

    study_name, experiment = names()
    args = [*on_cluster(cluster, study_name, experiment), "search.n_trials=3", "search.pruner=none", *L3_SMALL, "trainer.max_epochs=3"]
    sweeper = subprocess.Popen(
        [sys.executable, "-m", "sweep.run", *args, f"paths.cache_dir={cache_dir}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        cancelled = None
        deadline = time.monotonic() + 300
        while cancelled is None and time.monotonic() < deadline and sweeper.poll() is None:
            time.sleep(2)
            try:
                study = load(cluster, study_name)
            except KeyError:  # not created yet
                continue
            for trial in study.get_trials(states=[optuna.trial.TrialState.RUNNING]):
                if "mlflow_run_id" in trial.user_attrs:  # its job is training
                    cancelled = trial
                    subprocess.run(["scancel", trial.user_attrs["slurm_job_id"]], check=True)
                    break
        assert cancelled is not None, "no trial started training"
        out, _ = sweeper.communicate(timeout=900)
    finally:
        if sweeper.poll() is None:
            sweeper.kill()
    assert sweeper.returncode == 0, out[-4000:]

    study = load(cluster, study_name)
    states = [(t.number, t.state.name, t.user_attrs.get("error")) for t in study.trials]
    assert len(counted(study)) == 3, f"cancelled trial {cancelled.number}; trials {states}\n{out[-6000:]}"
    returned = study.trials[cancelled.number]
    assert returned.state == optuna.trial.TrialState.FAIL and "returns to the budget" in returned.user_attrs["error"]
    assert len(study.trials) == 4
    parents, children = runs_of(cluster, experiment)
    by_trial = {int(r.data.tags["optuna.trial"]): r for r in children}
    assert by_trial[cancelled.number].info.status in ("KILLED", "FAILED")
    assert not [r for r in children + parents if r.info.status == "RUNNING"]

    again = run_cli(*args, cwd=tmp_path, cache=cache_dir, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(load(cluster, study_name).trials) == 4  # nothing more ran: the budget was met


def test_an_unreachable_storage_fails_before_anything_is_submitted(cluster, tmp_path):
    study_name, experiment = names()
    args = on_cluster(cluster, study_name, experiment)
    args = [a.replace(cluster.storage_url, "postgresql://sweep:secret@127.0.0.1:1/optuna") for a in args]
    before = subprocess.run(["squeue", "--noheader", "--format=%i"], capture_output=True, text=True).stdout.split()
    result = run_cli(*args, "search.n_trials=2", cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: search.storage") and "cannot connect" in line and "secret" not in result.stderr + result.stdout
    after = subprocess.run(["squeue", "--noheader", "--format=%i"], capture_output=True, text=True).stdout.split()
    assert set(after) <= set(before)  # nothing was submitted
    assert not list(tmp_path.rglob(".submitit"))


def squeue_ids() -> set[str]:
    listed = subprocess.run(["squeue", "--noheader", "--array", "--format=%i"], capture_output=True, text=True, check=True)
    return set(listed.stdout.split())


def start_and_stop(args: list[str], cluster, study_name: str, cwd, cache_dir, signum) -> tuple[set, str, int]:
    """Start the search, send ``signum`` once two of its trials train; their SLURM jobs, its output, its exit code."""
    import optuna

    sweeper = subprocess.Popen([sys.executable, "-m", "sweep.run", *args, f"paths.cache_dir={cache_dir}"],
                               cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        training: list = []
        deadline = time.monotonic() + 300
        while len(training) < 2 and time.monotonic() < deadline and sweeper.poll() is None:
            time.sleep(2)
            try:
                running = load(cluster, study_name).get_trials(states=[optuna.trial.TrialState.RUNNING])
            except KeyError:
                continue
            training = [t for t in running if "mlflow_run_id" in t.user_attrs]
        assert len(training) == 2, "two trials never trained at once"
        sweeper.send_signal(signum)
        out, _ = sweeper.communicate(timeout=120)
    finally:
        if sweeper.poll() is None:
            sweeper.kill()
    return {t.user_attrs["slurm_job_id"] for t in training}, out, sweeper.returncode


def test_a_stopped_sweeper_leaves_no_job_running_and_no_budget_lost(cluster, tmp_path, cache_dir):
    """SIGTERM: the sweeper cancels its trials' jobs and returns their trials before it exits (143).
    SIGKILL (the same command started again): it cannot; the jobs run on until the next start fails their
    trials, cancels the jobs and returns the budget, then completes the budget exactly."""
    import signal

    import optuna

    study_name, experiment = names()
    args = [*on_cluster(cluster, study_name, experiment), "search.n_trials=3", "search.pruner=none", *L3_SMALL, "trainer.max_epochs=3"]
    terminated, out, code = start_and_stop(args, cluster, study_name, tmp_path, cache_dir, signal.SIGTERM)
    assert code == 143, out[-3000:]
    time.sleep(3)
    assert not terminated & squeue_ids()  # cancelled by the sweeper
    study = load(cluster, study_name)
    assert not study.get_trials(states=[optuna.trial.TrialState.RUNNING])
    assert len(counted(study)) == sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)  # none lost

    killed, out, code = start_and_stop(args, cluster, study_name, tmp_path, cache_dir, signal.SIGKILL)
    assert code == -9 and killed <= squeue_ids()  # nobody cancelled them: they run on

    resumed = run_cli(*args, cwd=tmp_path, cache=cache_dir, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not killed & squeue_ids()
    study = load(cluster, study_name)
    assert len(counted(study)) == 3 and not study.get_trials(states=[optuna.trial.TrialState.RUNNING])
    for jobs in (terminated, killed):
        returned = [t for t in study.trials if t.user_attrs.get("slurm_job_id") in jobs and t.state == optuna.trial.TrialState.FAIL]
        assert len(returned) == 2 and all("returns to the budget" in t.user_attrs["error"] for t in returned)
    parents, children = runs_of(cluster, experiment)
    assert not [r for r in parents + children if r.info.status == "RUNNING"]


def test_a_ddp_trial_runs_as_two_slurm_tasks_with_one_trial_and_one_run(cluster, tmp_path, cache_dir):
    """submitit's tasks_per_node=2: srun starts both ranks; rank 0 owns the trial and the run, rank 1 follows."""
    import optuna

    study_name, experiment = names()
    ddp = ["hydra.launcher.tasks_per_node=2", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp"]
    args = [*on_cluster(cluster, study_name, experiment), "search.n_jobs=1", "search.n_trials=1", "model=tiny_bert",
            "task.train_size=128", "task.val_size=32", "task.test_size=32", *ddp]  # fmt: skip
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    (trial,) = load(cluster, study_name).trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    parents, children = runs_of(cluster, experiment)
    (run,) = children
    assert run.info.status == "FINISHED" and run.data.metrics["world_size"] == 2
    assert run.data.tags["slurm.job"] == trial.user_attrs["slurm_job_id"]
    assert len([p for p in tmp_path.rglob(".hydra") if p.is_dir()]) == 1  # one job folder, not one per rank
