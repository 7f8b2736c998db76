"""Ctrl-C and SIGTERM through real subprocesses: runs end, trials return to the budget, and the same
command then completes the budget exactly. Also a grid, and a search parent shared by two workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_nightly import unlocked
from tests.test_search_cli import counted, mlflow_runs, study_of

pytestmark = pytest.mark.slow

# long enough trials to be caught in the middle: about 50 optimizer steps of MiniLM-L3 (two side by side: ~17 s of
# training unloaded, the signal comes ~3 s in); the same command then runs the whole budget of such trials again
L3_LONG = ["model=minilm_l3", "task.train_size=800", "task.val_size=64", "task.test_size=32", "optim.batch_size=16"]
SEARCH = ["-m", "search=optuna", "hydra/launcher=joblib", "search.n_jobs=2", "search.n_trials=3", *L3_LONG]


def start(args: list[str], cwd: Path, cache: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "sweep.run", *args, f"paths.cache_dir={cache}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    # its own process group, as a shell gives a command: Ctrl-C reaches the whole group
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(condition, timeout: float = 300, cwd: Path | None = None):
    """Poll ``condition``; with ``cwd``, only once the sweep has set up its stores (its parent run's file is
    written after the MLflow store and the study exist): a client opened on a store not yet created creates
    it, and two processes creating one sqlite store at once crash one of them (the sweep: a flaky test)."""
    deadline = time.time() + timeout
    while cwd is not None and not any(cwd.glob("outputs/multirun/*/*/.mlflow_parent_run_id")) and time.time() < deadline:
        time.sleep(0.5)
    while time.time() < deadline:
        try:
            found = condition()
        except Exception:  # the store is being created
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("timed out waiting")


def running_trials(cwd: Path):
    import optuna

    return [t for t in study_of(cwd).trials if t.state == optuna.trial.TrialState.RUNNING and "mlflow_run_id" in t.user_attrs]


def running_runs(cwd: Path):
    client, parents, children = mlflow_runs(cwd)
    return [r for r in parents + children if r.info.status == "RUNNING"]


def interrupt_mid_trials(cwd: Path, cache: Path, signum: int, whole_group: bool) -> list:
    """Start the search, signal it with both slots mid-trial, check that nothing is lost; the trials it ended."""
    import optuna

    process = start(SEARCH, cwd, cache)
    wait_for(lambda: len(running_trials(cwd)) == 2, cwd=cwd)  # both slots mid-trial
    time.sleep(3)
    sent = time.time()
    if whole_group:  # a terminal's Ctrl-C: every process of the command gets it
        os.killpg(process.pid, signum)
    else:  # kill, timeout, SLURM: the main process gets it and passes it on
        os.kill(process.pid, signum)
    _, err = process.communicate(timeout=60)
    assert time.time() - sent < 30, "took too long to stop"
    assert process.returncode == 128 + signum, err[-3000:]
    assert "interrupted by" in err and "Traceback" not in err

    study = study_of(cwd)
    interrupted = [t for t in study.trials if "interrupted" in t.user_attrs.get("error", "")]
    assert all(t.state == optuna.trial.TrialState.FAIL for t in interrupted)
    assert not any(t in counted(study) for t in interrupted)  # their budget returned
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    assert running_runs(cwd) == []
    client, parents, children = mlflow_runs(cwd)
    assert len(parents) == 1 and parents[0].data.tags["state"] == "interrupted" and parents[0].info.status == "KILLED"
    states = {int(r.data.tags["optuna.trial"]): r.data.tags["state"] for r in children}
    assert all(states[t.number] == "interrupted" for t in interrupted)
    return interrupted


def test_a_signal_during_a_two_slot_search_loses_nothing(tmp_path, cache_dir):
    """SIGTERM to the main process, then Ctrl-C to the whole group of the same command resumed: each time both
    trials in flight end as interrupted and return to the budget; the same command a third time completes it."""
    import optuna

    assert len(interrupt_mid_trials(tmp_path, cache_dir, signal.SIGTERM, whole_group=False)) == 2
    assert len(interrupt_mid_trials(tmp_path, cache_dir, signal.SIGINT, whole_group=True)) == 4  # both runs' two

    # the same command again: the budget completes exactly
    again = start(SEARCH, tmp_path, cache_dir)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    study = study_of(tmp_path)
    finished = [t for t in counted(study) if t.state.is_finished()]
    assert len(finished) == 3 and all(t.state != optuna.trial.TrialState.FAIL for t in finished)
    client, parents, children = mlflow_runs(tmp_path)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED" and parents[0].data.tags["state"] == "finished"
    assert running_runs(tmp_path) == []


def test_ctrl_c_during_a_grid_ends_its_parent_and_the_running_child(tmp_path, cache_dir):
    process = start(["-m", "strategy=full,lora", *L3_LONG], tmp_path, cache_dir)
    wait_for(lambda: [r for r in mlflow_runs(tmp_path)[2] if r.info.status == "RUNNING"], cwd=tmp_path)
    time.sleep(3)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-3000:]
    assert running_runs(tmp_path) == []
    _, parents, children = mlflow_runs(tmp_path)
    assert [(r.info.status, r.data.tags["state"]) for r in parents + children] == [("KILLED", "interrupted")] * 2


def test_the_search_parent_stays_running_while_any_worker_runs(tmp_path, cache_dir):
    """Deterministic two workers: A is frozen (SIGSTOP) mid-trial, B uses up the rest of the budget and
    leaves; the shared parent must stay RUNNING until A, resumed, ends it as FINISHED."""
    # a budget of 2: A's frozen trial and one of B's; B's budget check (count, then wait for nothing of its own
    # in flight, then leave) is the same for any budget, and each more trial of B only adds training time
    args = ["-m", "search=optuna", "search.n_trials=2", "search.storage=journal:outputs/study.log", "model=minilm_l3",
            "task.train_size=320", "task.val_size=32", "task.test_size=32", "optim.batch_size=16"]  # fmt: skip
    a = start(args, tmp_path, cache_dir)
    wait_for(lambda: running_trials_journal(tmp_path))
    for _ in range(200):  # A frozen where it holds no store lock: frozen inside a write, it would stall B too
        os.killpg(a.pid, signal.SIGSTOP)
        if unlocked(tmp_path / "outputs" / "mlflow.db") and not (tmp_path / "outputs" / "study.log.lock").exists():
            break
        os.killpg(a.pid, signal.SIGCONT)
        time.sleep(0.05)
    else:
        pytest.fail("worker A never left its stores unlocked")
    try:
        b = start(args, tmp_path, cache_dir)
        _, err = b.communicate(timeout=600)
        assert b.returncode == 0, err[-3000:]
        _, parents, _ = mlflow_runs(tmp_path)
        assert len(parents) == 1 and parents[0].info.status == "RUNNING"  # A has not finished its trial
    finally:
        os.killpg(a.pid, signal.SIGCONT)
    _, err = a.communicate(timeout=600)
    assert a.returncode == 0, err[-3000:]
    study = study_of(tmp_path, "journal:outputs/study.log")
    owners = {t.system_attrs["sweep:owner"]["pid"] for t in study.trials}
    assert owners == {a.pid, b.pid} and len(counted(study)) == 2
    _, parents, children = mlflow_runs(tmp_path)
    assert parents[0].info.status == "FINISHED" and parents[0].data.tags["state"] == "finished"
    assert len(children) == 2 and running_runs(tmp_path) == []


def running_trials_journal(cwd: Path):
    import optuna

    study = study_of(cwd, "journal:outputs/study.log")
    return [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING and "mlflow_run_id" in t.user_attrs]
