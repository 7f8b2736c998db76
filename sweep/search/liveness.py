"""Who runs which trial, whether they are still alive, and the study's trial budget.

Optuna's own heartbeat exists only for RDB storages and only inside ``study.optimize``; our workers
use ask/tell on any storage, so they keep their own: each running trial records its owner (host, pid,
process start time) and a heartbeat timestamp in its system attributes. A trial is dead when its
owner is a process of this host that no longer exists, or when its heartbeat is older than the grace
period (owners on other hosts). Dead trials are failed and marked uncounted: their budget returns.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import psutil

from sweep.locks import file_lock

OWNER, HEARTBEAT, UNCOUNTED = "sweep:owner", "sweep:heartbeat", "sweep:uncounted"


def this_process() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": psutil.Process().create_time()}


def owner_alive(owner: dict) -> bool:
    try:
        return abs(psutil.Process(owner["pid"]).create_time() - owner["started"]) < 1.0
    except (psutil.NoSuchProcess, KeyError, TypeError):
        return False


def is_dead(trial, grace_period: float, now: float | None = None) -> bool:
    """A RUNNING trial whose worker is gone."""
    now = time.time() if now is None else now
    owner = trial.system_attrs.get(OWNER)
    if owner and owner.get("host") == socket.gethostname():
        return not owner_alive(owner)
    beat = trial.system_attrs.get(HEARTBEAT)
    if beat is None and trial.datetime_start is not None:
        beat = trial.datetime_start.timestamp()
    return beat is not None and now - beat > grace_period


def counts(trial) -> bool:
    """Whether a trial uses the budget: everything but failed trials of dead workers, interrupted
    trials and surplus asks. A trial that completed always counts, even if a worker that took its
    owner for dead marked it meanwhile."""
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return trial.state in done or UNCOUNTED not in trial.system_attrs


def budget_used(study) -> int:
    return sum(1 for trial in study.get_trials(deepcopy=False) if counts(trial))


class Heartbeat:
    """A daemon thread that stamps this worker's running trials every ``interval`` seconds."""

    def __init__(self, storage, interval: float):
        self.storage, self.interval = storage, interval
        self.trial_ids: set[int] = set()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sweep-heartbeat", daemon=True)
        self.thread.start()

    def claim(self, trial_id: int) -> None:
        self.storage.set_trial_system_attr(trial_id, OWNER, this_process())
        self.storage.set_trial_system_attr(trial_id, HEARTBEAT, time.time())
        with self.lock:
            self.trial_ids.add(trial_id)

    def release(self, trial_id: int) -> None:
        with self.lock:
            self.trial_ids.discard(trial_id)

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            with self.lock:
                ids = list(self.trial_ids)
            for trial_id in ids:
                try:
                    self.storage.set_trial_system_attr(trial_id, HEARTBEAT, time.time())
                except Exception:  # the trial finished meanwhile; the next beat skips it
                    pass


def budget_lock(path: Path | None):
    """Serialise "count, then ask" across local processes sharing a storage file.

    Servers (PostgreSQL) have no such file; there a surplus trial is detected after asking instead.
    """
    return file_lock(path, ".budget.lock")
