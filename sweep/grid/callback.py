"""The grid (``-m`` without a search): a Hydra callback that gives it one MLflow parent run, and at its end
the comparison table and the report's paragraph.

The parent run is created once, before any job starts: this also creates a fresh sqlite store from a
single process (several processes creating it at once crash). Jobs find the parent through a file in
the sweep folder, which works in-process, in joblib workers and on cluster nodes alike. A search's
parent belongs to the study and its workers: the sweeper opens and ends it (sweep/search/sweeper.py).

Hydra turns exceptions raised in callbacks into warnings and carries on; a sweep without its parent
run must not start, so failures here exit the process instead. Hydra calls no callback when a
multirun is interrupted: the entry point ends the parent then (sweep/tracking/job_run.py: end_all).
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sweep.tracking.parents import PARENT_FILE

log = logging.getLogger("sweep")


def exit_on_error(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        from sweep.config.errors import ConfigError
        from sweep.config.secrets import mask_secrets

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


def jobs_launched(sweep_dir: Path, since: float) -> int:
    """Jobs Hydra started in this sweep: each gets its folder and .hydra/ before the job itself runs."""
    return sum(1 for path in sweep_dir.glob("*/.hydra/config.yaml") if path.stat().st_mtime >= since)


class MlflowSweepCallback(Callback):
    @exit_on_error
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        from sweep.distributed.slurm_jobs import use_squeue_without_sacct

        self.parent_run_id = None
        self.unreturned: list[str] = []  # jobs whose SLURM job ended without a result, as the end of the grid says them
        use_squeue_without_sacct(str(config.hydra.launcher.get("_target_", "")))
        from sweep.config.schema import is_search

        if is_search(config.get("search")):  # a search: the sweeper owns the study's parent
            return
        from sweep.config.errors import ConfigError
        from sweep.config.groups import varies_with_the_job
        from sweep.config.schema import RootConfig, job_container, typed
        from sweep.config.secrets import mask_secrets
        from sweep.pipeline.validate import resolve_monitor, validate
        from sweep.runtime.console import quiet_libraries
        from sweep.tracking.job_run import JobRun
        from sweep.tracking.orphans import close_orphans
        from sweep.tracking.store import check_reachable, client_and_experiment, tracking_uri
        from sweep.tracking.ui import save_runs_view

        # errors shared by every job fail once, here, before anything is recorded
        try:
            root = validate(config).root
        except ConfigError as error:
            if not varies_with_the_job(error, list(config.hydra.overrides.task)):
                raise
            root = typed(RootConfig, job_container(config))
            resolve_monitor(root)  # the monitor its jobs resolve: the table and the recommendation read it
        uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
        check_reachable(uri)
        quiet_libraries()
        client, experiment_id = client_and_experiment(uri, root.tracking.experiment, root.paths.output_dir, root.paths.cache_dir)
        close_orphans(client, experiment_id)
        save_runs_view(client, experiment_id, root.trainer.monitor, root.trainer.mode)
        self.started = time.time() - 1.0  # file times may be a little behind the clock
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        overrides = mask_secrets(" ".join(config.hydra.overrides.task))[:5000]
        tags = {"sweep.dir": str(sweep_dir.resolve()), "sweep.overrides": overrides, "sweep.kind": "grid"}
        parent = JobRun.create(client, experiment_id, f"sweep-{time.strftime('%Y%m%d-%H%M%S')}", tags, kind="grid")
        (sweep_dir / PARENT_FILE).write_text(parent.run_id)
        self.uri, self.client, self.experiment_id, self.parent_run_id = uri, client, experiment_id, parent.run_id
        self.monitor, self.mode = root.trainer.monitor, root.trainer.mode
        log.info("sweep parent run %s in %s", parent.run_id, mask_secrets(uri))

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        """Hydra calls this in each job's process; our SLURM launcher (hydra_plugins/sweep_slurm) calls it here
        for a job whose SLURM job ended without a result. Its run ends with why (its process was killed
        before it could), or, cancelled before it opened one, it gets one: the table has its row."""
        from hydra_plugins.sweep_slurm import EndedWithoutResult

        if not isinstance(job_return, EndedWithoutResult) or getattr(self, "parent_run_id", None) is None:
            return
        number, outcome = int(config.hydra.job.num), job_return.return_value
        self.unreturned.append(f"job {number} (SLURM job {job_return.slurm_job}): {outcome.error.splitlines()[0]}")
        try:
            self._record_unreturned(config, number, outcome.state, outcome.error, job_return.slurm_job)
        except Exception:  # best effort: the store may be what failed; the grid still fails this job
            log.warning("job %d: its end could not be recorded in MLflow", number, exc_info=True)

    def _record_unreturned(self, config: DictConfig, number: int, state: str, error: str, slurm_job: str) -> None:
        from omegaconf import OmegaConf

        from sweep.config.schema import job_container
        from sweep.config.secrets import mask_secrets
        from sweep.pipeline.context import JobContext
        from sweep.pipeline.job import base_tags, run_name
        from sweep.tracking.job_run import JobRun

        query = f"tags.mlflow.parentRunId = '{self.parent_run_id}' and tags.`sweep.job` = '{number}'"
        runs = self.client.search_runs([self.experiment_id], query)
        for run in runs:
            if run.info.status == "RUNNING":  # killed before it could end its run
                JobRun(self.client, run.info.run_id).finish(state, error=error)
            elif run.data.tags.get("state") == "interrupted":  # ended on SLURM's SIGTERM: say where that came from
                JobRun(self.client, run.info.run_id).set_tags({"error": mask_secrets(error)[:5000]})
        if runs:
            return
        context = JobContext(True, self.parent_run_id, number)
        model, strategy, task, source = (
            str(OmegaConf.select(config, key, default="?")) for key in ("model.name", "strategy.name", "task.name", "model.source")
        )
        tags = {**base_tags(model, strategy, task, source, context), "slurm.job": slurm_job}
        name = run_name(model, strategy, OmegaConf.select(config, "tracking.run_name", default=None), context)
        JobRun.open(self.client, self.experiment_id, name, tags, job_container(config), self.parent_run_id).finish(state, error=error)

    @exit_on_error
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if self.parent_run_id is None:
            return
        from sweep.report.hook import end_of_sweep
        from sweep.tracking.comparison import print_comparison
        from sweep.tracking.job_run import JobRun, end_children

        # every job has returned: a child still RUNNING lost its process (a killed worker)
        end_children(self.client, self.parent_run_id, "failed", "its process died before the run ended")
        table = self.client.search_runs([self.experiment_id], f"tags.mlflow.parentRunId = '{self.parent_run_id}'", max_results=50000)
        lost = max(0, jobs_launched(Path(config.hydra.sweep.dir), self.started) - len(table))
        table = print_comparison(self.client, self.experiment_id, self.parent_run_id, self.uri, self.monitor, self.mode, lost)
        end_of_sweep(self.client, self.experiment_id, self.parent_run_id, self.monitor)  # the recommendation; never raises
        failed = int((table["state"] != "finished").sum()) if not table.empty else 0
        JobRun(self.client, self.parent_run_id).finish("finished", jobs=len(table) + lost, jobs_failed=failed + lost)
        for job in self.unreturned:
            print(job, file=sys.stderr)
        if failed or lost or self.unreturned:
            print(f"{failed + lost} of {len(table) + lost} jobs failed (see the note column and the runs' error tags)", file=sys.stderr)
            sys.exit(1)
