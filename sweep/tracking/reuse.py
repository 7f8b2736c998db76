"""No configuration trained twice (``search.reuse=true``): a job whose key (sweep/pipeline/fingerprint.py:
configuration, data, code) matches a finished run is answered from that run, in a run of its own tagged
``reused_from=<run id>``, without training. In a grid, a single run or a search, within and across studies and
sweeps: every run of the tracking store is a candidate, whatever its experiment.

Every job's run carries its key (tag ``reuse.key``) from the moment it opens, and a finished one its outcome
(``outcome.json``: what the sweeper got), whether or not reuse was on: work done before reuse was asked for
answers too. The key's run being open is its claim: of the jobs with one key, the one whose run opened first
trains, and the others wait for it (a search's other workers, a grid's other processes or SLURM jobs), then
answer from it; if it fails or is interrupted the next in line trains. Both orders read the same store, so
two jobs never both wait; at worst, two that open within one store round-trip of each other both train.
A waiting job whose claimant's process is gone (this machine: by pid, sweep/runtime/owners.py) stops waiting;
a claimant on another node that died is ended by the next start there (sweep/tracking/orphans.py) or by its
search's liveness check, and its waiters go on then.

Why not Optuna's own: a built-in cache was declined (optuna#2021, #2915), and a study's trials know neither grids
nor other studies; the tracking store already holds every run, its config and its outcome.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

from sweep.runtime.owners import alive
from sweep.tracking.job_run import OWNER_TAG, PREDICTIONS_DIR, JobRun

log = logging.getLogger("sweep")

KEY_TAG = "reuse.key"
REUSED_FROM = "reused_from"
OUTCOME = "outcome.json"
POLL_S = 2.0


def log_outcome(client, run_id: str, value: float | None, metrics: dict[str, float]) -> None:
    """A finished job's outcome (sweep/pipeline/outcome.py) on its run: what a later job with its key is answered with."""
    client.log_dict(run_id, {"value": value, "metrics": metrics}, OUTCOME)


def wait_for_answer(client, key: str, run_id: str, poll_s: float = POLL_S):
    """The finished run that answers the job of run ``run_id``, after waiting for a job of the same key whose run
    opened first; None: this job trains (nothing matches, or it is first in line)."""
    own = client.get_run(run_id).info
    waiting_for = None
    while True:
        runs = [run for run in runs_with(client, key) if run.info.run_id != run_id]
        for run in runs:
            if run.data.tags.get("state") == "finished":
                record = recorded_outcome(client, run.info.run_id)
                if record is not None:
                    return run, record
        earlier = [run for run in runs if run.info.status == "RUNNING" and in_line_before(run.info, own) and not gone(run)]
        if not earlier:
            return None
        if waiting_for != earlier[0].info.run_id:
            waiting_for = earlier[0].info.run_id
            log.info("run %s: the same configuration, data and code are training in run %s: waiting for it", run_id, waiting_for)
        time.sleep(poll_s)


def runs_with(client, key: str) -> list:
    from mlflow.entities import ViewType

    experiments = [experiment.experiment_id for experiment in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    query = f"tags.`{KEY_TAG}` = '{key}'"
    return client.search_runs(experiments, query, run_view_type=ViewType.ACTIVE_ONLY, order_by=["attributes.start_time ASC"])


def in_line_before(other, own) -> bool:
    return (other.start_time, other.run_id) < (own.start_time, own.run_id)


def gone(run) -> bool:
    try:
        owner = json.loads(run.data.tags.get(OWNER_TAG, "null"))
    except ValueError:
        return False
    return alive(owner) is False


def recorded_outcome(client, run_id: str) -> dict | None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            return json.loads(Path(client.download_artifacts(run_id, OUTCOME, folder)).read_text())
        except Exception:  # its artifacts were deleted, or never written: it cannot answer
            return None


def answer(client, run: JobRun, source, record: dict) -> str:
    """End ``run`` as ``source``'s answer: its metrics and per-example tables copied (the UI and the report compare
    it like any run), tagged ``reused_from`` the run that trained (a copy's own source, when it was one), returned."""
    original = source.data.tags.get(REUSED_FROM) or source.info.run_id
    metrics = source.data.metrics
    run.log_metrics(metrics, step=int(metrics.get("optimizer_steps", 0)))
    with tempfile.TemporaryDirectory() as folder:
        try:
            tables = client.download_artifacts(source.info.run_id, PREDICTIONS_DIR, folder)
        except Exception:  # a run without them (recorded before they were kept): the report says so
            tables = None
        if tables is not None:
            client.log_artifacts(run.run_id, tables, PREDICTIONS_DIR)
    client.log_dict(run.run_id, record, OUTCOME)
    kept = {name: source.data.tags[name] for name in ("best_step", "precision") if name in source.data.tags}
    run.finish("finished", **{REUSED_FROM: original}, **kept)
    return original
