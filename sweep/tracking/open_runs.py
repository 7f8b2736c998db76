"""The runs this process opened and has not ended yet, so that an interruption ends them truthfully.

A job ends its own run on every path it controls. What it does not control: a signal arriving while a
run is being created, a grid's parent (Hydra calls no callback when a multirun is interrupted), and the
children a grid's parent still has RUNNING in worker processes that were stopped. ``end_all`` covers
those, from the entry point, before the process exits.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("sweep")
_lock = threading.Lock()
_open: dict[str, tuple[object, str]] = {}  # run id -> (MlflowClient, kind: job | grid)


def opened(client, run_id: str, kind: str) -> None:
    with _lock:
        _open[run_id] = (client, kind)


def ended(run_id: str) -> None:
    with _lock:
        _open.pop(run_id, None)


def end_all(state: str, error: str) -> int:
    """End every run still open here (a grid's RUNNING children with it); returns how many."""
    from sweep.tracking.job_run import JobRun

    with _lock:
        runs = list(_open.items())
    count = 0
    for run_id, (client, kind) in reversed(runs):  # children before their parents
        try:
            if kind == "grid":
                count += end_children(client, run_id, state, error)
            count += JobRun(client, run_id).finish_if_running(state, error=error)
        except Exception:  # the store may be what failed; the other runs are still ended
            log.warning("could not end run %s", run_id, exc_info=True)
    return count


def end_children(client, parent_run_id: str, state: str, error: str) -> int:
    """End the RUNNING children of a parent whose jobs have all returned or been stopped."""
    from sweep.tracking.job_run import JobRun

    experiment_id = client.get_run(parent_run_id).info.experiment_id
    query = f"tags.mlflow.parentRunId = '{parent_run_id}' and attributes.status = 'RUNNING'"
    return sum(JobRun(client, run.info.run_id).finish_if_running(state, error=error) for run in client.search_runs([experiment_id], query))
