"""The MLflow and Optuna schemas, created once, here: several workers creating a fresh schema at once
crash (MLflow: "table ... already exists"; Optuna on PostgreSQL: UniqueViolation), so no worker ever
finds an empty database."""

from __future__ import annotations

import sys
from pathlib import Path

from sweep.cluster.errors import ClusterError
from sweep.cluster.processes import run


def mlflow_schema(url: str, log: Path, stamp: Path) -> None:
    """Create or upgrade MLflow's tables (``mlflow db upgrade`` handles an empty database too).

    Skipped when ``stamp`` says this MLflow version already upgraded the database to the revision it
    still has: the upgrade command costs 4-10 s of imports, on every restart of the server otherwise.
    """
    from importlib.metadata import version

    current = f"mlflow {version('mlflow')} revision {_alembic_revision(url)}"
    if stamp.exists() and stamp.read_text().strip() == current:
        return
    run([sys.executable, "-m", "mlflow", "db", "upgrade", url], log, "mlflow db upgrade", timeout=300)
    stamp.write_text(f"mlflow {version('mlflow')} revision {_alembic_revision(url)}\n")


def _alembic_revision(url: str) -> str | None:
    """The schema revision MLflow's migrations recorded in the database; None for an empty database."""
    import psycopg

    if not _has_table(url, "alembic_version"):
        return None
    with psycopg.connect(url, connect_timeout=5) as connection:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def _has_table(url: str, table: str) -> bool:
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as connection:
        return connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None


def optuna_schema(url: str) -> None:
    """Create Optuna's tables (RDBStorage does on first use), unless they exist."""
    if _has_table(url, "version_info"):
        return
    import optuna

    try:
        optuna.storages.RDBStorage(url).remove_session()
    except Exception as error:  # SQLAlchemy's and the driver's errors alike mean "this store cannot be used"
        raise ClusterError(f"creating Optuna's schema in {url} failed: {type(error).__name__}: {str(error).splitlines()[0]}") from None
