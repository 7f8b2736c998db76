"""A grid (``-m`` without a search) through real SLURM (sweep.cluster's single node), recorded on the MLflow
server: a job whose SLURM job is cancelled is a row of the table, and the grid's other jobs still finish."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import TINY_DATA

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster"), pytest.mark.slow]  # one worker: one cluster
# without sacct a job cancelled while pending may leave squeue before its state is read: ENDED_UNRECORDED
# (sweep/distributed/slurm_jobs.py); either way the cluster, not the job, ended it
REASON = re.compile(r"its SLURM job ended without a result \((CANCELLED|ENDED_UNRECORDED)\)")


def array_elements(name: str) -> dict[str, str]:
    """The SLURM jobs named ``name``, one per array element (``<array>_<task>``), with their state."""
    command = ["squeue", "--noheader", "--array", "--states=all", f"--name={name}", "--format=%i|%T"]
    listed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return dict(line.split("|") for line in listed.split())


def training(client, experiment: str, job: int) -> bool:
    found = client.get_experiment_by_name(experiment)
    query = f"tags.`sweep.job` = '{job}' and attributes.status = 'RUNNING'"
    return found is not None and bool(client.search_runs([found.experiment_id], query))


def test_a_cancelled_grid_job_is_a_row_and_the_other_jobs_finish(cluster, tmp_path, cache_dir):
    """Three jobs, two at a time: job 2 is cancelled while it waits (it never opens a run), job 1 once its run
    is open; job 0 finishes. Regression: Hydra's submitit launcher raised on the first job that ended without a
    result, so the grid died there with a traceback, job 2 had no row and the parent run ended FAILED."""
    from mlflow.tracking import MlflowClient

    tag = uuid.uuid4().hex[:8]
    experiment, name = f"slurm-grid-{tag}", f"grid-{tag}"  # the job name finds this grid's SLURM jobs
    args = [
        "-m", "cluster=local_slurm", "model=tiny_bert", *TINY_DATA, "trainer.early_stopping_patience=null",
        "trainer.max_epochs=10", "task.train_size=64,2000,48", f"tracking.uri={cluster.tracking_uri}",
        f"tracking.experiment={experiment}", f"hydra.job.name={name}", f"paths.cache_dir={cache_dir}",
    ]  # fmt: skip
    # job 1 trains long enough to be cancelled; each job logs its own data set (train sizes differ): two
    # jobs logging the same one at the same moment can race in the MLflow server (a unique key violated)
    client = MlflowClient(tracking_uri=cluster.tracking_uri)
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
        grid = subprocess.Popen([sys.executable, "-m", "sweep.run", *args], cwd=tmp_path, stdout=out, stderr=err, text=True)
        try:
            cancelled: dict[int, str] = {}
            deadline = time.monotonic() + 240
            while len(cancelled) < 2 and time.monotonic() < deadline and grid.poll() is None:
                time.sleep(1)
                jobs = array_elements(name)
                for job_id, state in jobs.items():
                    number = int(job_id.rsplit("_", 1)[1])
                    if number in cancelled:
                        continue
                    if (number == 2 and state == "PENDING") or (number == 1 and state == "RUNNING" and training(client, experiment, 1)):
                        subprocess.run(["scancel", job_id], check=True)
                        cancelled[number] = job_id
            assert sorted(cancelled) == [1, 2], f"cancelled {cancelled}; jobs {array_elements(name)}"
            grid.wait(timeout=300)
        finally:
            if grid.poll() is None:
                grid.kill()
    stdout, stderr = (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()

    assert grid.returncode == 1, stderr[-4000:]
    for number, job_id in cancelled.items():  # the command says which jobs were cancelled
        assert any(f"job {number} " in line and job_id in line and REASON.search(line) for line in stderr.splitlines()), stderr[-4000:]
    assert "2 of 3 jobs failed" in stderr and "Traceback" not in stderr, stderr[-4000:]
    assert all(f"| tiny_bert-full-{number} " in stdout for number in range(3)), stdout[-4000:]  # every job has its row

    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], max_results=100)
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = {int(r.data.tags["sweep.job"]): r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert sorted(children) == [0, 1, 2] and len(runs) == 4
    assert children[0].info.status == "FINISHED"
    for number in (1, 2):
        run = children[number]
        assert run.info.status == "KILLED" and run.data.tags["state"] == "interrupted", run.data.tags
        assert REASON.match(run.data.tags["error"]) and run.data.tags["slurm.job"] == cancelled[number], run.data.tags
    assert parent.info.status == "FINISHED" and parent.data.tags["jobs"] == "3" and parent.data.tags["jobs_failed"] == "2"
    assert not [r for r in runs if r.info.status == "RUNNING"]
    assert not set(cancelled.values()) & {j for j, state in array_elements(name).items() if state in ("PENDING", "RUNNING")}
