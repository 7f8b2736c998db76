"""The MLflow side of a search: the study's parent run, closing runs of dead workers, the end report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

log = logging.getLogger("sweep")


@dataclass
class SearchTracking:
    client: object  # MlflowClient
    experiment_id: str
    parent_run_id: str | None

    @classmethod
    def for_sweep(cls, config: DictConfig) -> SearchTracking:
        from sweep.schema import validate
        from sweep.tracking.store import client_and_experiment, tracking_uri
        from sweep.tracking.sweep_callback import read_parent_run_id

        root = validate(config).root
        uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
        client, experiment_id = client_and_experiment(uri, root.tracking.experiment, root.paths.output_dir)
        return cls(client, experiment_id, read_parent_run_id(config.hydra.sweep.dir))

    def fail_run(self, run_id: str, error: str) -> None:
        """End a run its own process could not end (that process died, or the sweep failed)."""
        from sweep.tracking.job_run import JobRun

        if self.client.get_run(run_id).info.status == "RUNNING":
            JobRun(self.client, run_id).finish("failed", error=error)

    def close_orphan_runs(self, study) -> None:
        """Children left RUNNING whose trial is no longer running (a worker killed mid-trial)."""
        import optuna

        if self.parent_run_id is None:
            return
        running = {t.number for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING])}
        children = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{self.parent_run_id}' and attributes.status = 'RUNNING'"
        )
        for run in children:
            number = run.data.tags.get("optuna.trial")
            if number is None or int(number) not in running:
                self.fail_run(run.info.run_id, "its worker died before the run ended")
                log.warning("closed run %s left RUNNING by a dead worker", run.info.run_id)

    def log_files(self, folder: Path) -> None:
        if self.parent_run_id is not None:
            for path in sorted(folder.iterdir()):
                if path.is_file():
                    self.client.log_artifact(self.parent_run_id, str(path), "search")

    def log_summary(self, metrics: dict[str, float], tags: dict[str, str]) -> None:
        if self.parent_run_id is None:
            return
        for key, value in metrics.items():
            self.client.log_metric(self.parent_run_id, key, value)
        for key, value in tags.items():
            self.client.set_tag(self.parent_run_id, key, value)
