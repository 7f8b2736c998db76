"""Where the cluster lives and which ports it uses: a flag, else an environment variable, else what the
last ``up`` used (saved in ``<root>/cluster.json``, so ``status`` and ``down`` need no flags), else the default."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from sweep.cluster.errors import ClusterError

HOST = "127.0.0.1"  # a dev/CI cluster: every service listens on loopback only
DEFAULT_ROOT = Path("outputs") / "cluster"
ROOT_ENV = "SWEEP_CLUSTER_ROOT"


@dataclass(frozen=True)
class Setting:
    """One configurable port: its CLI flag, its environment variable and its default."""

    flag: str
    env: str
    default: int
    what: str


SETTINGS = {
    "pg_port": Setting("--pg-port", "SWEEP_CLUSTER_PG_PORT", 5433, "PostgreSQL port (5433: a system PostgreSQL keeps 5432)"),
    "mlflow_port": Setting("--mlflow-port", "SWEEP_CLUSTER_MLFLOW_PORT", 5000, "MLflow server port"),
    "slurmctld_port": Setting("--slurmctld-port", "SWEEP_CLUSTER_SLURMCTLD_PORT", 6817, "slurmctld port"),
    "slurmd_port": Setting("--slurmd-port", "SWEEP_CLUSTER_SLURMD_PORT", 6818, "slurmd port"),
    "mlflow_workers": Setting("--mlflow-workers", "SWEEP_CLUSTER_MLFLOW_WORKERS", 2, "MLflow server worker processes (~250 MB each)"),
}


@dataclass
class ClusterSettings:
    root: Path = field(default_factory=lambda: DEFAULT_ROOT.resolve())
    pg_port: int = SETTINGS["pg_port"].default
    mlflow_port: int = SETTINGS["mlflow_port"].default
    slurmctld_port: int = SETTINGS["slurmctld_port"].default
    slurmd_port: int = SETTINGS["slurmd_port"].default
    mlflow_workers: int = SETTINGS["mlflow_workers"].default
    host: str = HOST
    partition: str = "local"

    @classmethod
    def resolve(cls, root: str | Path | None = None, running: bool = False, **flags: int | None) -> ClusterSettings:
        """Flags (None: not given) over environment variables over the saved file over the defaults.
        ``running``: describe the cluster as the last ``up`` started it (``status``, ``down``): saved first."""
        root = Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT).resolve()
        saved = cls.saved(root)
        values = {}
        for name, setting in SETTINGS.items():
            value = saved.get(name) if running else None
            value = flags.get(name) if value is None else value
            if value is None and os.environ.get(setting.env):
                try:
                    value = int(os.environ[setting.env])
                except ValueError:
                    raise ClusterError(f"{setting.env}={os.environ[setting.env]}: must be an integer", exit_code=2) from None
            if value is None:
                value = saved.get(name, setting.default)
            values[name] = value
        return cls(root=root, **values)

    @staticmethod
    def saved(root: Path) -> dict:
        """What the last ``up`` in ``root`` used (empty before the first)."""
        try:
            return {k: v for k, v in json.loads((root / "cluster.json").read_text()).items() if k in SETTINGS}
        except (OSError, ValueError):
            return {}

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        values = {k: v for k, v in dataclasses.asdict(self).items() if k in SETTINGS}
        (self.root / "cluster.json").write_text(json.dumps(values, indent=2) + "\n")

    # the URLs users and jobs need
    @property
    def storage_url(self) -> str:
        """Optuna storage (``search.storage=``). No password: trust authentication on loopback (see postgres.py)."""
        return f"postgresql://sweep@{self.host}:{self.pg_port}/optuna"

    @property
    def mlflow_store_url(self) -> str:
        """The MLflow server's backend store; users talk to the server (``tracking_uri``), not to this."""
        return f"postgresql://sweep@{self.host}:{self.pg_port}/mlflow"

    @property
    def tracking_uri(self) -> str:
        return f"http://{self.host}:{self.mlflow_port}"

    @property
    def slurm_conf(self) -> Path:
        return self.root / "slurm" / "slurm.conf"
