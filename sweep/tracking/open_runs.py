"""The runs this process opened and has not ended yet, so that an interruption ends them truthfully.

A job ends its own run on every path it controls. What it does not control: a signal arriving while a
run is being created, a grid's parent (Hydra calls no callback when a multirun is interrupted), and the
children a grid's parent still has RUNNING in worker processes that were stopped. ``job_run.end_all``
covers those, from the entry point, before the process exits.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_open: dict[str, tuple[object, str]] = {}  # run id -> (MlflowClient, kind: job | grid)


def opened(client, run_id: str, kind: str) -> None:
    with _lock:
        _open[run_id] = (client, kind)


def ended(run_id: str) -> None:
    with _lock:
        _open.pop(run_id, None)


def still_open() -> list[tuple[str, tuple[object, str]]]:
    """Run id -> (client, kind), in the order they were opened (ended by tracking/job_run.py: end_all)."""
    with _lock:
        return list(_open.items())
