"""A file lock among local processes (sweepers, joblib workers) sharing a storage file."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path | None, suffix: str = ".lock"):
    """An exclusive lock among local processes, on a file beside ``path`` (no-op for None)."""
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + suffix)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
