"""Database URLs shared by the MLflow store and the Optuna storage: the file behind a sqlite URL, and
a quick connection check of a server, so that a wrong URL fails in seconds, not after minutes of retries."""

from __future__ import annotations

from pathlib import Path

from sweep.config.errors import ConfigError
from sweep.config.secrets import mask_secrets


def sqlite_file(uri: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL; None for anything else."""
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def check_database(uri: str, key: str, timeout: int) -> None:
    """Connect once to a database server (PostgreSQL, MySQL); create nothing."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(uri, connect_args={"connect_timeout": timeout})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as e:  # driver errors differ per database; all mean "cannot use this store"
        raise ConfigError(key, f"cannot connect: {mask_secrets(str(e).splitlines()[0])}", mask_secrets(uri)) from None
