"""Who runs which trial, whether they are still alive, and the study's trial budget.

Each running trial records its owner (sweep/runtime/owners.py: host, boot id, PID namespace, pid, start time).
A trial is dead when
- its owner is a process of this machine (same host, boot and PID namespace) that no longer exists:
  known at once, on the next start, with no waiting (Optuna has no such check);
- or its heartbeat is older than ``search.grace_period`` (an owner elsewhere). On database storages
  (sqlite, PostgreSQL) that is Optuna's own heartbeat: ``RDBStorage(heartbeat_interval, grace_period,
  heartbeat_stale_trial_callback)`` and ``optuna.storages.fail_stale_trials``, driven by our thread
  because ask/tell workers never enter ``study.optimize``, where Optuna runs its own. The journal storage
  has no heartbeat in Optuna: there, and only there, the beat is our own system attribute.
Dead trials are failed, and their budget returns: only a failure of the trial's own making (its job
raised, its loss was NaN) counts against the budget, marked as such when it is told. Every other FAIL
(an interrupted trial, a dead worker's, one failed by Optuna's heartbeat check, a surplus ask) does
not, whoever failed it.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

from sweep.runtime.locks import file_lock
from sweep.runtime.owners import alive, this_process

log = logging.getLogger("sweep")
OWNER, HEARTBEAT, FAILED_BY_TRIAL = "sweep:owner", "sweep:heartbeat", "sweep:failed_by_trial"
RETURNED = "sweep:returned"  # set before a returned trial is failed: it never counts, whatever raced it
REUSED_FREE = "sweep:reused_free"  # answered from an earlier run (search.reuse) and not counted (search.reuse_counts=false)


def optuna_heartbeat(storage) -> bool:
    """Whether the storage keeps Optuna's own trial heartbeat (database storages opened with an interval)."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(storage)


def is_dead(trial, grace_period: float, storage, now: float | None = None) -> bool:
    """A RUNNING trial whose worker is gone (stale Optuna heartbeats are failed by fail_stale_trials)."""
    owner = trial.system_attrs.get(OWNER)
    verdict = alive(owner)
    if verdict is not None:
        return not verdict
    if owner is not None and optuna_heartbeat(storage):
        return False  # Optuna's heartbeat judges it; a trial never claimed (its asker died at once) is ours
    beat = trial.system_attrs.get(HEARTBEAT)
    if beat is None and trial.datetime_start is not None:
        beat = trial.datetime_start.timestamp()
    return beat is not None and (time.time() if now is None else now) - beat > grace_period


def counts(trial) -> bool:
    """Whether a trial uses the budget: running, complete, pruned, or failed by its own doing (an
    enqueued trial still WAITING does not: it is a point to run, sweep/nightly/matrix.py; nor one answered from
    an earlier run that the search lets off, sweep/search/worker.py ``count_reuse``)."""
    import optuna

    if trial.state == optuna.trial.TrialState.WAITING or REUSED_FREE in trial.system_attrs:
        return False
    if trial.state != optuna.trial.TrialState.FAIL:
        return True
    return bool(trial.system_attrs.get(FAILED_BY_TRIAL)) and RETURNED not in trial.system_attrs


def budget_used(study) -> int:
    return sum(1 for trial in study.get_trials(deepcopy=False) if counts(trial))


class Heartbeat:
    """A daemon thread that beats for this worker's running trials, and for the worker itself."""

    def __init__(self, storage, interval: float, beat_worker: Callable[[], None] | None = None):
        self.storage, self.interval, self.beat_worker = storage, interval, beat_worker
        self.trial_ids: set[int] = set()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sweep-heartbeat", daemon=True)
        self.thread.start()

    def claim(self, trial_id: int) -> None:
        self.storage.set_trial_system_attr(trial_id, OWNER, this_process())
        self._beat(trial_id)
        with self.lock:
            self.trial_ids.add(trial_id)

    def release(self, trial_id: int) -> None:
        with self.lock:
            self.trial_ids.discard(trial_id)

    def claimed(self) -> list[int]:
        with self.lock:
            return sorted(self.trial_ids)

    def stop(self) -> None:
        """No beat after this returns: a late "running" record would keep a search's parent open."""
        self.stopped.set()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=5)

    def _beat(self, trial_id: int) -> None:
        if optuna_heartbeat(self.storage):
            self.storage.record_heartbeat(trial_id)
        else:  # the journal storage: Optuna keeps no heartbeat there
            self.storage.set_trial_system_attr(trial_id, HEARTBEAT, time.time())

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            for trial_id in self.claimed():
                try:
                    self._beat(trial_id)
                except Exception:  # the trial finished meanwhile; the next beat skips it
                    pass
            if self.beat_worker is not None and not self.stopped.is_set():
                try:
                    self.beat_worker()
                except Exception:  # the tracking store is down for a moment: beat again next time
                    log.debug("worker heartbeat failed", exc_info=True)


def budget_lock(path: Path | None):
    """Serialise "count, then ask" across local processes sharing a storage file.

    Servers (PostgreSQL) have no such file; there a surplus trial is detected after asking instead.
    """
    return file_lock(path, ".budget.lock")
