"""The real single-node cluster for tests marked ``cluster``: started once per session through the CLI.

``cluster`` yields a sweep.cluster.Cluster: ``cluster.storage_url`` (Optuna, PostgreSQL),
``cluster.tracking_uri`` (the MLflow server), ``cluster.partition`` (SLURM), ``cluster.root`` (its folder).
SLURM's clients (sbatch, squeue, submitit) need no SLURM_CONF: ``up`` links /etc/slurm/slurm.conf.
Skips when not root; fails (does not skip) when ``up`` fails, so CI never passes on a broken cluster.
Set SWEEP_CLUSTER_ROOT to share one running cluster between checkouts (see cluster_root).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cluster_root() -> Path:
    """SWEEP_CLUSTER_ROOT, else outputs/cluster of this checkout, unless munge and postgres cannot reach it
    (a checkout under /root, mode 0700): then a folder of its own under /var/tmp."""
    from sweep.cluster.processes import reachable_by

    if os.environ.get("SWEEP_CLUSTER_ROOT"):
        return Path(os.environ["SWEEP_CLUSTER_ROOT"]).resolve()
    if not reachable_by(ROOT / "outputs"):
        return ROOT / "outputs" / "cluster"
    return Path("/var/tmp") / f"sweep-cluster-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]}"


def cluster_cli(*args: str, timeout: float = 1800, user: str | None = None, python: str = sys.executable) -> subprocess.CompletedProcess:
    """``python -m sweep.cluster ARGS`` from the repository root, as a user types it (``user``: run as that user)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    full_env.pop("SLURM_CONF", None)
    command = [python, "-m", "sweep.cluster", *args]
    if user:
        command = ["runuser", "-u", user, "--", "env", f"PYTHONPATH={ROOT}", *command]
    return subprocess.run(command, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("the cluster needs root (munged, slurmd and PostgreSQL run as their own users): run the tests as root")
    from sweep.cluster import Cluster

    root = cluster_root()
    was_running = cluster_cli("status", "--root", str(root), timeout=60).returncode == 0
    up = cluster_cli("up", "--root", str(root))
    if up.returncode != 0:
        pytest.fail(f"`python -m sweep.cluster up` failed (exit {up.returncode}):\n{up.stdout}\n{up.stderr}")
    yield Cluster(root=root, running=True)  # its URLs as `up` saved them
    if not was_running:
        cluster_cli("down", "--root", str(root), timeout=300)
