"""The run several processes share, a sweep's parent: where its jobs find it (a file in the sweep folder,
which works in-process, in joblib workers and on cluster nodes alike) and how they write to it at once."""

from __future__ import annotations

import time
from pathlib import Path

PARENT_FILE = ".mlflow_parent_run_id"


def read_parent_run_id(sweep_dir: str) -> str | None:
    path = Path(sweep_dir) / PARENT_FILE
    return path.read_text().strip() if path.exists() else None


# a lost insert race: sqlite's words, and PostgreSQL's (behind an MLflow server, as its error text)
RACES = ("UNIQUE constraint", "IntegrityError", "database is locked", "UniqueViolation", "duplicate key value")


def shared(call, *args, **kwargs):
    """A write to the run every worker writes to. Two processes setting the same tag on one sqlite store
    at once race in MLflow's insert-or-update (UNIQUE constraint failed); the loser tries again and updates."""
    for attempt in range(6):
        try:
            return call(*args, **kwargs)
        except Exception as error:
            if attempt == 5 or not any(sign in str(error) for sign in RACES):
                raise
            time.sleep(0.1 * (attempt + 1))
