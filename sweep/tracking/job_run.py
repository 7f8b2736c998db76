"""One MLflow run of ours (a job, or a grid's parent): opened with its owner, always ended with a state.

States: finished (FINISHED), failed (FAILED, with the error message), pruned (KILLED, with the step),
interrupted (KILLED: Ctrl-C or SIGTERM), kept in the ``state`` tag so the comparison table and the UI
can filter on them. The ``sweep.owner`` tag names the process (sweep/runtime/owners.py): a run whose owner died
without ending it (SIGKILL, out of memory) is ended by the next start (sweep/tracking/orphans.py).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from sweep.config.secrets import mask_secrets
from sweep.tracking import open_runs
from sweep.tracking.params import flatten, masked

log = logging.getLogger("sweep")

STATUS = {"finished": "FINISHED", "failed": "FAILED", "pruned": "KILLED", "interrupted": "KILLED"}
OWNER_TAG = "sweep.owner"


PREDICTIONS_DIR = "predictions"  # the artifact folder of a run's per-example tables: <stage>.npz


def owner_tag() -> dict[str, str]:
    from sweep.runtime.owners import this_process

    return {OWNER_TAG: json.dumps(this_process())}


class JobRun:
    def __init__(self, client, run_id: str):
        self.client = client
        self.run_id = run_id

    @classmethod
    def create(cls, client, experiment_id: str, run_name: str, tags: dict[str, str], kind: str = "job") -> JobRun:
        """A new RUNNING run owned by this process, ended by it even if the process is interrupted."""
        run = client.create_run(experiment_id, run_name=run_name, tags={**tags, **owner_tag(), "state": "running"})
        open_runs.opened(client, run.info.run_id, kind)
        return cls(client, run.info.run_id)

    @classmethod
    def open(cls, client, experiment_id: str, run_name: str, tags: dict[str, str], config: dict, parent_run_id: str | None) -> JobRun:
        from mlflow.entities import Param

        if parent_run_id:
            tags = {**tags, "mlflow.parentRunId": parent_run_id}
        opened = cls.create(client, experiment_id, run_name, tags)
        try:
            # log_batch splits into MLflow's limit of 100 params per request itself
            client.log_batch(opened.run_id, params=[Param(key, value) for key, value in flatten(config).items()])
            client.log_dict(opened.run_id, masked(config), "config.yaml")
        except BaseException as error:
            from sweep.runtime.signals import Interrupted

            state = "interrupted" if isinstance(error, Interrupted) else "failed"
            opened.finish(state, error=f"recording the run failed: {type(error).__name__}: {error}")
            raise
        return opened

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(key, float(value), now, step) for key, value in metrics.items() if value is not None]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def log_data(self, task, sizes: dict[str, int]) -> None:
        """The job's data set (sweep/tracking/datasets.py): the runs list's Dataset column."""
        from sweep.tracking.datasets import data_input
        from sweep.tracking.parents import shared

        # jobs of one grid log the same data set at once: MLflow inserts it once, the losers retry and link it
        shared(self.client.log_inputs, self.run_id, datasets=[data_input(task, sizes)])

    def log_examples(self, tables: dict) -> dict[str, float]:
        """Each stage's per-example table (lightning_modules/examples.py) as ``predictions/<stage>.npz``; returns
        what keeping them cost (``predictions_bytes``, ``predictions_s``), logged beside the other metrics."""
        import tempfile
        from pathlib import Path

        start, size = time.perf_counter(), 0
        with tempfile.TemporaryDirectory() as folder:
            for stage, table in tables.items():
                path = Path(folder) / f"{stage}.npz"
                path.write_bytes(table.to_bytes())
                size += path.stat().st_size
                self.client.log_artifact(self.run_id, str(path), PREDICTIONS_DIR)
        return {"predictions_bytes": float(size), "predictions_s": time.perf_counter() - start} if tables else {}

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(key, str(value)) for key, value in tags.items()])

    def finish(self, state: str, **tags: Any) -> None:
        """End the run; tag values (error messages, tracebacks) are masked: they may quote URLs."""
        try:
            self.set_tags({"state": state, **{key: mask_secrets(str(value))[:5000] for key, value in tags.items()}})
        finally:
            self.client.set_terminated(self.run_id, STATUS[state])
            open_runs.ended(self.run_id)

    def finish_if_running(self, state: str, **tags: Any) -> bool:
        """End the run unless it has ended already (its own process may have got there first)."""
        if self.client.get_run(self.run_id).info.status != "RUNNING":
            open_runs.ended(self.run_id)
            return False
        self.finish(state, **tags)
        return True


def end_all(state: str, error: str) -> int:
    """End every run still open here (a grid's RUNNING children with it); returns how many."""
    runs = open_runs.still_open()
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
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    query = f"tags.mlflow.parentRunId = '{parent_run_id}' and attributes.status = 'RUNNING'"
    return sum(JobRun(client, run.info.run_id).finish_if_running(state, error=error) for run in client.search_runs([experiment_id], query))
