"""A file lock among local processes (sweepers, joblib workers) sharing a storage file."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path


def file_lock(path: Path | None, suffix: str = ".lock"):
    """An exclusive lock among local processes, on a file beside ``path`` (a no-op for None)."""
    if path is None:
        return nullcontext()
    from filelock import FileLock

    lock_path = path.with_name(path.name + suffix)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(lock_path))
