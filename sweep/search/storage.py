"""Optuna storages: sqlite (default, one process), a journal file (several local processes),
PostgreSQL (a cluster). The URL decides; creating the schema is done once, before any worker.

    sqlite:///outputs/optuna/<study>.db         (default, derived from the study name)
    journal:outputs/optuna/<study>.log          (journal:///abs/path.log works too)
    postgresql+psycopg2://user:${oc.env:PGPASSWORD}@host:5432/optuna
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Callable

from sweep.config.errors import ConfigError
from sweep.config.secrets import mask_secrets
from sweep.runtime.databases import check_database, sqlite_file
from sweep.runtime.locks import file_lock

KEY = "search.storage"


def storage_url(configured: str | None, study_name: str, output_dir: str) -> str:
    if configured:
        return configured
    return f"sqlite:///{(Path(output_dir) / 'optuna' / f'{study_name}.db').resolve()}"


def file_of(url: str) -> Path | None:
    """The local file behind a sqlite or journal URL (for locks and checks); None for servers."""
    if url.startswith("sqlite:///"):
        return sqlite_file(url)
    if url.startswith("journal:"):
        rest = url[len("journal:") :]
        return Path(rest[2:] if rest.startswith("///") else rest)
    return None


def check_reachable(url: str, timeout: int = 5) -> None:
    """Fail fast on a storage that cannot be used, without creating anything in it."""
    shown = mask_secrets(url)
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    path = file_of(url)
    if path is not None:
        folder = path.parent
        while not folder.exists():
            folder = folder.parent
        if not os.access(folder, os.W_OK):
            raise ConfigError(KEY, f"cannot write under {folder}", shown)
        return
    if scheme not in ("postgresql", "mysql"):
        raise ConfigError(KEY, "unknown storage; use sqlite:///<file>.db, journal:<file>.log or postgresql://...", shown)
    check_database(url, KEY, timeout)


def open_storage(url: str, heartbeat: tuple[int, int] | None = None, on_stale: Callable | None = None):
    """The Optuna storage for ``url``, creating its schema if new (retried: workers may race on it).

    ``heartbeat`` = (interval, grace period) turns on Optuna's trial heartbeat on database storages
    (sweep/search/liveness.py); ``on_stale(study, trial)`` runs for each trial it fails.
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = file_of(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("journal:"):
        return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    beats = {}
    if heartbeat is not None:
        beats = {"heartbeat_interval": heartbeat[0], "grace_period": heartbeat[1], "heartbeat_stale_trial_callback": on_stale}
    for attempt in range(5):
        try:
            with file_lock(path), warnings.catch_warnings():  # local processes: one creates a fresh sqlite schema
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat arguments
                return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url), **beats)
        except Exception as e:  # another worker was creating the same schema at this moment (servers; and sqlite, where
            # a reader that does not take file_lock races the creator: alembic's version row inserted twice, "UNIQUE
            # constraint failed", seen in a test that read a night's study with a plain RDBStorage)
            if attempt == 4 or not any(race in str(e) for race in SCHEMA_RACES):
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


SCHEMA_RACES = ("already exists", "UniqueViolation", "UNIQUE constraint failed")  # PostgreSQL/MySQL, psycopg, sqlite


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        # several processes (a sweeper and its joblib workers) write one file: wait for locks
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}
