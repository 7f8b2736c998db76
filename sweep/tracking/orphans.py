"""Runs left RUNNING by a process that died without ending them (SIGKILL, out of memory, a lost node).

Every start (a run, a grid, a search) looks at the experiment's RUNNING runs and ends those whose
owners are all dead: a job's or a grid parent's ``sweep.owner``, a search parent's worker records. An
owner on this machine is judged by its pid (sweep/runtime/owners.py); a search worker elsewhere by the age of
its heartbeat; a run whose owners cannot be judged is left alone.
"""

from __future__ import annotations

import json
import logging
import time

from sweep.runtime.owners import alive
from sweep.tracking.job_run import OWNER_TAG, JobRun

log = logging.getLogger("sweep")
WORKER_TAG = "sweep.worker."  # + worker id: a search parent's record of one worker (search_runs.py)


def worker_records(run) -> dict[str, dict]:
    """A search parent's workers: tag suffix -> {owner, state, beat}."""
    records = {}
    for key, value in run.data.tags.items():
        if key.startswith(WORKER_TAG):
            try:
                records[key[len(WORKER_TAG) :]] = json.loads(value)
            except ValueError:
                continue
    return records


def record_alive(record: dict, grace_period: float, now: float | None = None) -> bool:
    """A worker record still counts while its state is running and its owner is not known dead."""
    if record.get("state") != "running":
        return False
    verdict = alive(record.get("owner"))
    if verdict is not None:
        return verdict
    beat = record.get("beat")
    return beat is None or (time.time() if now is None else now) - float(beat) <= grace_period


def is_orphan(run, grace_period: float) -> bool:
    owner = run.data.tags.get(OWNER_TAG)
    if owner is not None:
        try:
            return alive(json.loads(owner)) is False
        except ValueError:
            return False
    records = worker_records(run)
    return bool(records) and not any(record_alive(r, grace_period) for r in records.values())


def close_orphans(client, experiment_id: str, grace_period: float = 600) -> int:
    """End RUNNING runs of dead owners as failed; returns how many."""
    closed = 0
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=5000):
        if is_orphan(run, grace_period) and JobRun(client, run.info.run_id).finish_if_running("failed", error="its process died"):
            log.warning("run %s (%s) was left RUNNING by a process that died: ended as failed", run.info.run_id, run.info.run_name)
            closed += 1
    return closed
