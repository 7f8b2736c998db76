"""The MLflow and Optuna schemas, created once, here: several workers creating a fresh schema at once
crash (MLflow: "table ... already exists"; Optuna on PostgreSQL: UniqueViolation), so no worker ever
finds an empty database."""

from __future__ import annotations

import sys
from pathlib import Path

from sweep.cluster.errors import ClusterError
from sweep.cluster.processes import run


def mlflow_schema(url: str, log: Path) -> None:
    """Create or upgrade MLflow's tables (``mlflow db upgrade`` handles an empty database too)."""
    run([sys.executable, "-m", "mlflow", "db", "upgrade", url], log, "mlflow db upgrade", timeout=300)


def optuna_schema(url: str) -> None:
    """Create Optuna's tables (RDBStorage does on first use; a second call only checks their version)."""
    import optuna

    try:
        optuna.storages.RDBStorage(url).remove_session()
    except Exception as error:  # SQLAlchemy's and the driver's errors alike mean "this store cannot be used"
        raise ClusterError(f"creating Optuna's schema in {url} failed: {type(error).__name__}: {str(error).splitlines()[0]}") from None
