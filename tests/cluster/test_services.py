"""The single-node cluster as jobs and users meet it: SLURM runs, shares and cancels jobs; PostgreSQL
serves Optuna through a plain postgresql:// URL; the MLflow server stores runs in PostgreSQL and serves
artifacts; ``down`` stops everything and keeps the data; faults get one clear message and exit 2."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.cluster.conftest import ROOT, cluster_cli, cluster_root

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]  # one worker of make test: one cluster, fixed ports

SERVICES = ("munged", "slurmctld", "slurmd", "postgres", "mlflow")


def slurm(*command: str) -> str:
    """A SLURM client as a user calls it: no SLURM_CONF, so /etc/slurm/slurm.conf must lead to our cluster."""
    env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stderr}"
    return done.stdout.strip()


def sbatch(*args: str) -> str:
    return slurm("sbatch", "--parsable", *args).split(";")[0]


def job_states(*job_ids: str) -> dict[str, str]:
    """Job id -> state for the jobs squeue still lists (pending, running, completing)."""
    out = slurm("squeue", "-h", "-j", ",".join(job_ids), "-o", "%i %T")
    return dict(line.split() for line in out.splitlines())


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_up_then_every_service_runs(cluster):
    status = cluster_cli("status", "--root", str(cluster.root), timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [[name, "running"] for name in SERVICES]
    assert Path("/etc/slurm/slurm.conf").resolve() == cluster.slurm_conf.resolve()


def test_sbatch_job_completes_with_the_hostname(cluster, tmp_path):
    job = sbatch("--wrap", "hostname", "-o", str(tmp_path / "%j.out"), "-p", cluster.partition)
    wait_for(lambda: not job_states(job), 30, f"job {job} leaves the queue")
    assert "JobState=COMPLETED" in slurm("scontrol", "show", "job", job)
    assert (tmp_path / f"{job}.out").read_text().strip() == socket.gethostname().split(".")[0]


def test_two_one_cpu_jobs_run_at_once(cluster):
    jobs = [sbatch("-c", "1", "-o", "/dev/null", "--wrap", "sleep 60") for _ in range(2)]
    try:
        wait_for(lambda: list(job_states(*jobs).values()) == ["RUNNING", "RUNNING"], 15, "both jobs RUNNING together")
    finally:
        slurm("scancel", *jobs)


def test_scancel_ends_a_running_job_within_seconds(cluster):
    job = sbatch("-c", "1", "-o", "/dev/null", "--wrap", "sleep 300")
    wait_for(lambda: job_states(job).get(job) == "RUNNING", 15, f"job {job} RUNNING")
    cancelled = time.monotonic()
    slurm("scancel", job)
    wait_for(lambda: not job_states(job), 15, f"job {job} gone after scancel")
    assert time.monotonic() - cancelled < 10
    assert "JobState=CANCELLED" in slurm("scontrol", "show", "job", job)


def test_optuna_study_in_postgresql_through_a_plain_url(cluster):
    import optuna

    assert cluster.storage_url.startswith("postgresql://")  # no +driver: SQLAlchemy picks psycopg 3
    name = f"cluster-test-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(study_name=name, storage=cluster.storage_url)
    try:
        trial = study.ask()
        study.tell(trial, 0.5)
        again = optuna.load_study(study_name=name, storage=optuna.storages.RDBStorage(cluster.storage_url))
        assert [(t.number, t.value) for t in again.trials] == [(0, 0.5)]
    finally:
        optuna.delete_study(study_name=name, storage=cluster.storage_url)


def test_mlflow_server_stores_runs_in_postgresql_and_serves_artifacts(cluster, tmp_path):
    import psycopg
    from mlflow.tracking import MlflowClient

    client = MlflowClient(cluster.tracking_uri)
    name = f"cluster-test-{uuid.uuid4().hex[:8]}"
    experiment = client.create_experiment(name)
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "val/acc", 0.75)
    (tmp_path / "note.txt").write_text("served by the MLflow server\n")
    client.log_artifact(run.info.run_id, str(tmp_path / "note.txt"))
    client.set_terminated(run.info.run_id)

    back = Path(client.download_artifacts(run.info.run_id, "note.txt", str(tmp_path / "back")))
    assert back.read_text() == "served by the MLflow server\n"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # uploaded through HTTP, not to a local path
    assert list((cluster.root / "mlflow" / "artifacts").rglob(f"{run.info.run_id}/artifacts/note.txt"))
    with psycopg.connect(cluster.storage_url.rsplit("/", 1)[0] + "/mlflow") as db:
        assert db.execute("SELECT name FROM experiments WHERE experiment_id = %s", (int(experiment),)).fetchone() == (name,)


def test_port_taken_names_the_port_and_its_flag(cluster):
    root = ROOT / "outputs" / f"cluster-test-{uuid.uuid4().hex[:8]}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = ["--slurmctld-port", "16817", "--slurmd-port", "16818", "--mlflow-port", "15000"]
        done = cluster_cli("up", "--root", str(root), "--pg-port", str(port), *free, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"port {port} (postgres) is already taken" in done.stderr and "--pg-port" in done.stderr
    assert not (root / "cluster.json").exists()  # nothing was started or recorded


def test_a_service_that_fails_to_start_shows_its_log(cluster):
    from sweep.cluster import ClusterError
    from sweep.cluster.postgres import Postgres
    from sweep.cluster.settings import ClusterSettings

    root = ROOT / "outputs" / f"cluster-test-{uuid.uuid4().hex[:8]}"
    try:
        postgres = Postgres(ClusterSettings(root=root, pg_port=15433))
        postgres.data.mkdir(parents=True)
        (postgres.data / "PG_VERSION").write_text("15\n")  # a data folder initdb never filled
        with pytest.raises(ClusterError, match="pg_ctl start failed") as failed:
            postgres.start()
        assert "last lines of" in str(failed.value) and "postgresql.conf" in str(failed.value)
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=True)


def test_without_root_says_what_is_missing_and_exits_2(cluster):
    """A real unprivileged user. The project's Python may lie where `nobody` cannot go (under /root): the
    system's python3 runs the CLI then (it needs only the standard library to say what is missing)."""
    from sweep.cluster.processes import reachable_by

    python = sys.executable if not reachable_by(Path(sys.executable).resolve(), "nobody") else shutil.which("python3", path="/usr/bin")
    if not python or reachable_by(ROOT / "sweep", "nobody"):
        pytest.skip(f"the user nobody can reach no Python interpreter or not {ROOT}")
    done = cluster_cli("up", "--root", "/nonexistent/cluster", user="nobody", python=python, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "needs root" in done.stderr and "runuser" in done.stderr and "Traceback" not in done.stderr


def test_missing_packages_are_named_with_the_command_to_get_them(monkeypatch, capsys):
    from sweep.cluster import install
    from sweep.cluster.__main__ import main
    from sweep.cluster.munge import Munge

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(install, "COMMON", {"/nonexistent/runuser": "util-linux"})
    monkeypatch.setattr(Munge, "requires", {"/nonexistent/munged": "munge", "/nonexistent/mungekey": "munge"})
    assert main(["up", "--root", "/nonexistent/cluster"]) == 2
    message = capsys.readouterr().err
    assert "needs root" in message
    assert "munged, mungekey (Debian package munge); runuser (Debian package util-linux)" in message
    assert "apt-get install -y --no-install-recommends munge util-linux" in message


def test_down_stops_everything_and_a_later_up_keeps_the_data(cluster):
    """Last in this file: the cluster is up again at its end, for the tests after it."""
    from mlflow.tracking import MlflowClient

    name = f"cluster-test-{uuid.uuid4().hex[:8]}"
    MlflowClient(cluster.tracking_uri).create_experiment(name)
    down = cluster_cli("down", "--root", str(cluster.root), timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    status = cluster_cli("status", "--root", str(cluster.root), timeout=60)
    assert status.returncode != 0
    assert [line.split()[:2] for line in status.stdout.splitlines()] == [[s, "stopped"] for s in SERVICES]
    assert not Path("/etc/slurm/slurm.conf").is_symlink()
    assert cluster_cli("down", "--root", str(cluster.root), timeout=60).returncode == 0  # idempotent

    up = cluster_cli("up", "--root", str(cluster.root))
    assert up.returncode == 0, up.stdout + up.stderr
    assert MlflowClient(cluster.tracking_uri).get_experiment_by_name(name) is not None
    assert cluster_root() == cluster.root


def test_help_answers_at_once_without_heavy_imports():
    """No cluster needed: --help and the CLI's modules use the standard library only."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sweep.cluster", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert done.returncode == 0 and "--pg-port" in done.stdout and "SWEEP_CLUSTER_PG_PORT" in done.stdout
    assert time.monotonic() - started < 5  # ~0.1 s here; loose for a loaded machine
    check = "import sys, sweep.cluster.__main__; print(sorted({'mlflow', 'optuna', 'psycopg', 'sqlalchemy'} & set(sys.modules)))"
    imported = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert imported.stdout.strip() == "[]", imported.stderr
