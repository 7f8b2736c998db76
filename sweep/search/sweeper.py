"""Our Hydra sweeper: ``python -m sweep.run -m search=optuna``.

Hydra instantiates sweepers only from the ``hydra_plugins`` package, so the thin class Hydra sees
lives in hydra_plugins/sweep_optuna/ and subclasses this one.

Why our own and not hydra-optuna-sweeper: that plugin never passes the trial to the job (no pruning),
waits for whole batches, forgets its budget on restart, and its newest release downgrades Optuna to
2.10, which crashes on database storages.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, List

from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig

from sweep.errors import ConfigError
from sweep.outcome import JobOutcome

log = logging.getLogger("sweep")


class OptunaSweeper(Sweeper):
    def __init__(self, **_: Any):
        self.config: DictConfig | None = None
        self.hydra_context = None
        self.launcher = None

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        try:
            return self._sweep(arguments)
        except ConfigError as error:  # bad input: one line, exit 2, nothing recorded past this point
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    def _sweep(self, arguments: List[str]) -> Any:
        from sweep.console import quiet_libraries
        from sweep.search.plan import plan_search

        plan = plan_search(self.config, arguments)
        if plan.search.n_jobs > 1 and type(self.launcher).__name__ == "BasicLauncher":
            raise ConfigError(
                "search.n_jobs", "runs trials in parallel processes: add hydra/launcher=joblib (or submitit_local, submitit_slurm)", plan.search.n_jobs
            )
        quiet_libraries()
        from sweep.search.liveness import budget_used
        from sweep.search.report import end_of_search
        from sweep.search.storage import open_storage
        from sweep.search.study import open_study
        from sweep.search.worker import Worker
        from sweep.tracking.search_runs import SearchTracking
        from sweep.tracking.store import mask_secrets

        storage = open_storage(plan.storage_url)
        study = open_study(plan, storage)
        tracking = SearchTracking.for_sweep(self.config)
        worker = Worker(plan, study, storage, self._launch, self._compose, tracking.fail_dead_trial_run)
        tracking.close_orphan_runs(study)
        log.info(
            "study %s in %s: %d of %d trials used, %d slot(s) in this worker",
            plan.study_name, mask_secrets(plan.storage_url), budget_used(study), plan.search.n_trials, plan.search.n_jobs,
        )
        worker.run(plan.search.n_jobs)
        end_of_search(plan, study, tracking, self.config, stop_reason=worker.stop.reason)
        return study

    def _launch(self, overrides: list[str], number: int) -> JobOutcome:
        result = self.launcher.launch([overrides], initial_job_idx=number)[0]
        if result.status == JobStatus.COMPLETED and isinstance(result.return_value, JobOutcome):
            return result.return_value
        error = result._return_value  # the exception that escaped the job
        return JobOutcome("failed", error=f"{type(error).__name__}: {error}")

    def _compose(self, overrides: list[str]):
        from sweep.schema import validate

        return validate(self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides)))

