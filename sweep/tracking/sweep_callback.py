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


def read_parent_run_id(sweep_dir: str) -> str | None:
    path = Path(sweep_dir) / PARENT_FILE
    return path.read_text().strip() if path.exists() else None


def exit_on_error(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        from sweep.errors import ConfigError

        try:
            return method(*args, **kwargs)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        except Exception as error:
            log.exception("sweep tracking failed")
            print(f"error: sweep tracking failed: {type(error).__name__}: {error}", file=sys.stderr)
            sys.exit(1)

    return wrapper


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
        quiet_libraries()
        client, experiment_id = client_and_experiment(uri, root.tracking.experiment, root.paths.output_dir)
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        overrides = " ".join(config.hydra.overrides.task)
        parent = client.create_run(
            experiment_id,
            run_name=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}",
            tags={"sweep.dir": str(sweep_dir.resolve()), "sweep.overrides": mask_secrets(overrides)[:5000], "state": "running"},
        )
        (sweep_dir / PARENT_FILE).write_text(parent.info.run_id)
        self.uri, self.client, self.experiment_id, self.parent_run_id = uri, client, experiment_id, parent.info.run_id
        self.monitor, self.mode = root.trainer.monitor, root.trainer.mode
        log.info("sweep parent run %s in %s", parent.info.run_id, mask_secrets(uri))

    @exit_on_error
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from sweep.tracking.report import comparison, to_markdown
        from sweep.tracking.store import ui_hint

        table = comparison(self.client, self.experiment_id, self.parent_run_id, self.monitor, self.mode)
        markdown = to_markdown(table)
        self.client.log_text(self.parent_run_id, markdown + "\n", "comparison.md")
        self.client.log_text(self.parent_run_id, table.to_csv(index=False), "comparison.csv")
        failed = int((table["state"] == "failed").sum()) if not table.empty else 0
        for key, value in {"state": "finished", "jobs": len(table), "jobs_failed": failed}.items():
            self.client.set_tag(self.parent_run_id, key, str(value))
        self.client.set_terminated(self.parent_run_id, "FINISHED")
        print(f"\n{markdown}\n\n{ui_hint(self.uri)}", flush=True)
        if failed:
            print(f"{failed} of {len(table)} jobs failed (see the note column and the runs' error tags)", file=sys.stderr)
            sys.exit(1)
