"""The MLflow side of a search: the study's parent run shared by its workers, closing runs of dead
workers, the end report.

Several workers (processes, nodes) run one study under one parent run. Each keeps a record on it, a
``sweep.worker.<id>`` tag holding its owner, its state and a heartbeat, so the parent tells the truth:
RUNNING while any worker runs; when the last one leaves, FINISHED if the budget was met, else KILLED
(interrupted) or FAILED. A worker that died without leaving is judged by its owner or its heartbeat
(sweep/tracking/orphans.py), and the parent is repaired by the next start.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from sweep.runtime.owners import this_process
from sweep.tracking.job_run import JobRun
from sweep.tracking.orphans import WORKER_TAG, close_orphans, record_alive, worker_records
from sweep.tracking.parents import PARENT_FILE, shared

log = logging.getLogger("sweep")
STUDY_ID_TAG = "optuna.study_id"  # the study's UUID (sweep/search/study.py) on its parent and its trials' runs


def worker_id(owner: dict) -> str:
    """A tag-safe name for one worker process: host, pid and start time (pids are reused)."""
    host = re.sub(r"[^\w.-]", "_", str(owner["host"]))
    return f"{host}-{owner['pid']}-{int(owner['started'])}"


def parent_query(study: str, storage: str, study_id: str) -> str:
    """The MLflow filter of a study's parent run: by the study's identity, never by its name alone (a study
    deleted and made again under the same name is another study, sweep/search/study.py)."""
    return (
        f"tags.`optuna.study` = '{study}' and tags.`optuna.storage` = '{storage}' and tags.`sweep.kind` = 'optuna' "
        f"and tags.`{STUDY_ID_TAG}` = '{study_id}'"
    )


def study_parent(client, experiment_id: str, study: str, storage: str, study_id: str, name: str, tags: dict) -> str:
    """The study's parent run, found or created; several workers starting at once agree on the oldest."""
    query = parent_query(study, storage, study_id)

    def parents():
        runs = client.search_runs([experiment_id], filter_string=query, max_results=100)
        return sorted((r for r in runs if "mlflow.parentRunId" not in r.data.tags), key=lambda r: (r.info.start_time, r.info.run_id))

    found = parents()
    if not found:
        identity = {"sweep.kind": "optuna", "optuna.study": study, "optuna.storage": storage, STUDY_ID_TAG: study_id}
        created = client.create_run(experiment_id, run_name=name, tags={**tags, **identity})
        found = parents()
        if found[0].info.run_id != created.info.run_id:  # another worker created one first: use that
            client.delete_run(created.info.run_id)
    return found[0].info.run_id


@dataclass
class SearchTracking:
    client: object  # MlflowClient
    experiment_id: str
    uri: str
    parent_run_id: str
    grace_period: float
    worker: str = ""

    @classmethod
    def join(cls, config: DictConfig, study: str, storage_shown: str, study_id: str, grace_period: float) -> SearchTracking:
        """Find or create the study's parent, repair what dead processes left RUNNING, add this worker."""
        from sweep.config.schema import RootConfig, job_container, typed
        from sweep.config.secrets import mask_secrets
        from sweep.tracking.store import client_and_experiment, tracking_uri

        root = typed(RootConfig, job_container(config))  # the sweeper validated the whole config before
        uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
        client, experiment_id = client_and_experiment(uri, root.tracking.experiment, root.paths.output_dir, root.paths.cache_dir)
        close_orphans(client, experiment_id, grace_period)
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        overrides = mask_secrets(" ".join(config.hydra.overrides.task))[:5000]
        tags = {"sweep.dir": str(sweep_dir.resolve()), "sweep.overrides": overrides}
        parent = study_parent(client, experiment_id, study, storage_shown, study_id, f"search-{study}", tags)
        (sweep_dir / PARENT_FILE).write_text(parent)  # the jobs find their parent here
        tracking = cls(client, experiment_id, uri, parent, grace_period, worker_id(this_process()))
        tracking._record("running")
        shared(client.update_run, parent, status="RUNNING")  # a resumed study reopens its parent
        shared(client.set_tag, parent, "state", "running")
        log.info("search parent run %s in %s", parent, mask_secrets(uri))
        return tracking

    def _record(self, state: str) -> None:
        record = {"owner": this_process(), "state": state, "beat": time.time()}
        shared(self.client.set_tag, self.parent_run_id, WORKER_TAG + self.worker, json.dumps(record))

    def beat(self) -> None:
        """This worker is alive (called by the heartbeat thread): workers elsewhere judge it by this."""
        self._record("running")

    def leave(self, state: str, budget_met: bool) -> str | None:
        """Record how this worker ended; the last one to leave ends the parent. Returns its final state.

        Write first, then read: of two workers leaving at once, the later reader sees both records
        ended and ends the parent, so it cannot stay RUNNING.
        """
        self._record(state)
        others = {key: r for key, r in worker_records(self.client.get_run(self.parent_run_id)).items() if key != self.worker}
        if any(record_alive(record, self.grace_period) for record in others.values()):
            return None
        final = "finished" if budget_met else state
        shared(JobRun(self.client, self.parent_run_id).finish, final)
        return final

    def record_failed_trial(self, study: str, study_id: str, number: int, params: dict, overrides: list[str], error: str) -> str:
        """A FAILED run for a trial whose job never opened one (its config could not be composed, its
        process could not start): the comparison table and the UI show it with its error, as for a grid's
        jobs. A job that failed before its own run opened records that itself: then nothing is added."""
        query = f"tags.mlflow.parentRunId = '{self.parent_run_id}' and tags.`optuna.trial` = '{number}'"
        recorded = self.client.search_runs([self.experiment_id], filter_string=query, max_results=1)
        if recorded:  # the job's own process recorded its failure (sweep/pipeline/job.py record_unopened)
            return recorded[0].info.run_id
        tags = {"optuna.study": study, "optuna.trial": str(number), STUDY_ID_TAG: study_id}
        config = {"trial": {"number": number, "params": dict(params), "overrides": list(overrides)}}
        run = JobRun.open(self.client, self.experiment_id, f"trial-{number}", tags, config, self.parent_run_id)
        run.finish("failed", error=error)
        return run.run_id

    def close_run(self, run_id: str, state: str, error: str) -> None:
        """End a trial's run as its trial ended (failed, or returned to the budget): one its own process could
        not end (that process died or was stopped), and also one its process ended FINISHED before the
        result reached the study (its sweeper was killed in between, or its worker process after): the study
        is the search's record, and a FINISHED row for a failed or re-run trial would compare as a result."""
        run = JobRun(self.client, run_id)
        if not run.finish_if_running(state, error=error) and self.client.get_run(run_id).data.tags.get("state") == "finished":
            run.finish(state, error=f"{error} (its job had ended it as finished)")

    def close_orphan_runs(self, study) -> None:
        """Children left RUNNING whose trial is no longer running (a worker killed mid-trial)."""
        import optuna

        running = {t.number for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING])}
        children = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{self.parent_run_id}' and attributes.status = 'RUNNING'"
        )
        for run in children:
            number = run.data.tags.get("optuna.trial")
            if number is None or int(number) not in running:
                self.close_run(run.info.run_id, "failed", "its worker died before the run ended")
                log.warning("closed run %s left RUNNING by a dead worker", run.info.run_id)

    def log_files(self, folder: Path) -> None:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                shared(self.client.log_artifact, self.parent_run_id, str(path), "search")

    def log_summary(self, metrics: dict[str, float], tags: dict[str, str]) -> None:
        for key, value in metrics.items():
            shared(self.client.log_metric, self.parent_run_id, key, value)
        for key, value in tags.items():
            shared(self.client.set_tag, self.parent_run_id, key, value)
