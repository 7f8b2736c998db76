"""How the submitting process reads SLURM jobs (sweep/distributed/slurm_jobs.py); the real cluster: tests/cluster/."""

import pytest
from submitit.core.utils import FailedJobError, UncompletedJobError

from sweep.distributed.slurm_jobs import GONE, current_job_id, ended_by_cluster


def uncompleted(state: str) -> UncompletedJobError:
    return UncompletedJobError(f"Job 12_0 (task: 0) with path /x/12_0_result.pkl\nhas not produced any output (state: {state})")


@pytest.mark.parametrize("state", ["CANCELLED", "NODE_FAIL", "PREEMPTED", GONE])
def test_a_job_the_cluster_ended_is_not_the_trials_doing(state):
    assert ended_by_cluster(uncompleted(state)) == state
    assert ended_by_cluster(uncompleted(f"{state} by 0")) == state  # scancel's form: "CANCELLED by <uid>"


@pytest.mark.parametrize("state", ["FAILED", "TIMEOUT", "OUT_OF_MEMORY"])
def test_a_job_that_failed_or_outran_its_limits_is(state):
    assert ended_by_cluster(uncompleted(state)) is None


def test_other_errors_are_not_cluster_ends():
    assert ended_by_cluster(FailedJobError("the job raised")) is None
    assert ended_by_cluster(RuntimeError("state: CANCELLED")) is None


def test_the_job_a_process_runs_in(monkeypatch):
    for key in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(key, raising=False)
    assert current_job_id() is None
    monkeypatch.setenv("SLURM_JOB_ID", "41")
    assert current_job_id() == "41"
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "40")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    assert current_job_id() == "40_1"  # what scancel and squeue call an array element
