"""A Hydra callback that gives every multirun one MLflow parent run, and its comparison table.

The parent run is created once, before any job starts: this also creates a fresh sqlite store from a
single process (several processes creating it at once crash). Jobs find the parent through a file in
the sweep folder, which works in-process, in joblib workers and on cluster nodes alike.

Hydra turns exceptions raised in callbacks into warnings and carries on; a sweep without its parent
run must not start, so failures here exit the process instead.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("sweep")
PARENT_FILE = ".mlflow_parent_run_id"
STOP_FILE = ".search_stop_reason"  # written by this process's sweeper: workers never overwrite each other's


def read_parent_run_id(sweep_dir: str) -> str | None:
    path = Path(sweep_dir) / PARENT_FILE
    return path.read_text().strip() if path.exists() else None


def write_stop_reason(sweep_dir: str, reason: str) -> None:
    (Path(sweep_dir) / STOP_FILE).write_text(reason)


def exit_on_error(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        from sweep.errors import ConfigError
        from sweep.secrets import mask_secrets

        try:
            return method(*args, **kwargs)
        except ConfigError as error:
            print(f"error: {mask_secrets(str(error))}", file=sys.stderr)
            sys.exit(2)
        except Exception as error:
            log.exception("sweep tracking failed")
            print(f"error: sweep tracking failed: {mask_secrets(f'{type(error).__name__}: {error}')}", file=sys.stderr)
            sys.exit(1)

    return wrapper


def study_parent(client, experiment_id: str, study: str, storage: str, name: str, tags: dict) -> str:
    """The study's parent run, found or created; several workers starting at once agree on the oldest."""
    query = f"tags.`optuna.study` = '{study}' and tags.`optuna.storage` = '{storage}' and tags.`sweep.kind` = 'optuna'"

    def parents():
        runs = client.search_runs([experiment_id], filter_string=query, max_results=100)
        return sorted((r for r in runs if "mlflow.parentRunId" not in r.data.tags), key=lambda r: (r.info.start_time, r.info.run_id))

    found = parents()
    if not found:
        created = client.create_run(
            experiment_id, run_name=name, tags={**tags, "sweep.kind": "optuna", "optuna.study": study, "optuna.storage": storage}
        )
        found = parents()
        if found[0].info.run_id != created.info.run_id:  # another worker created one first: use that
            client.delete_run(created.info.run_id)
    parent = found[0].info.run_id
    client.update_run(parent, status="RUNNING")  # a resumed study reopens its parent
    client.set_tag(parent, "state", "running")
    return parent


class MlflowSweepCallback(Callback):
    @exit_on_error
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        from sweep.console import quiet_libraries
        from sweep.schema import validate
        from sweep.tracking.store import check_reachable, client_and_experiment, mask_secrets, tracking_uri

        # errors shared by every job fail once, here, before anything is recorded
        root = validate(config).root
        uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
        check_reachable(uri)
        self.monitor, self.mode = root.trainer.monitor, root.trainer.mode
        study = None
        if config.get("search") is not None:  # an Optuna search: one parent per study, shared by its workers
            from sweep.search.plan import plan_search

            plan = plan_search(config, list(config.hydra.overrides.task))
            study, self.monitor, self.mode = plan.study_name, plan.monitor, plan.mode
            storage = mask_secrets(plan.storage_url)
        quiet_libraries()
        client, experiment_id = client_and_experiment(uri, root.tracking.experiment, root.paths.output_dir)
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        overrides = " ".join(config.hydra.overrides.task)
        tags = {"sweep.dir": str(sweep_dir.resolve()), "sweep.overrides": mask_secrets(overrides)[:5000], "state": "running"}
        name = f"sweep-{time.strftime('%Y%m%d-%H%M%S')}"
        if study is None:
            parent_id = client.create_run(experiment_id, run_name=name, tags={**tags, "sweep.kind": "grid"}).info.run_id
        else:
            parent_id = study_parent(client, experiment_id, study, storage, f"search-{study}", tags)
        (sweep_dir / PARENT_FILE).write_text(parent_id)
        self.uri, self.client, self.experiment_id, self.parent_run_id, self.study = uri, client, experiment_id, parent_id, study
        log.info("sweep parent run %s in %s", parent_id, mask_secrets(uri))

    @exit_on_error
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from sweep.tracking.comparison import comparison, to_markdown
        from sweep.tracking.store import mask_secrets, ui_hint

        table = comparison(self.client, self.experiment_id, self.parent_run_id, self.monitor, self.mode)
        markdown = mask_secrets(to_markdown(table))
        self.client.log_text(self.parent_run_id, markdown + "\n", "comparison.md")
        self.client.log_text(self.parent_run_id, table.to_csv(index=False), "comparison.csv")
        failed = int((table["state"] == "failed").sum()) if not table.empty else 0
        for key, value in {"state": "finished", "jobs": len(table), "jobs_failed": failed}.items():
            self.client.set_tag(self.parent_run_id, key, str(value))
        self.client.set_terminated(self.parent_run_id, "FINISHED")
        print(f"\n{markdown}\n\n{ui_hint(self.uri)}", flush=True)
        if self.study is not None:  # failed trials are part of a search; only a stopped search fails
            from sweep.search.worker import BUDGET, NORMAL_ENDS

            stop_file = Path(config.hydra.sweep.dir) / STOP_FILE
            reason = stop_file.read_text() if stop_file.exists() else BUDGET
            if reason not in NORMAL_ENDS:
                print(f"search stopped: {reason}", file=sys.stderr)
                sys.exit(1)
        elif failed:
            print(f"{failed} of {len(table)} jobs failed (see the note column and the runs' error tags)", file=sys.stderr)
            sys.exit(1)
