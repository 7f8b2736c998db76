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
        """Hydra calls the callbacks' on_multirun_end only when this returns: on an error, the study's
        parent run (opened by on_multirun_start) is ended here, as failed."""
        from sweep.secrets import mask_secrets

        try:
            return self._sweep(arguments)
        except ConfigError as error:  # bad input: one line, exit 2
            self._fail_parent(str(error))
            print(f"error: {mask_secrets(str(error))}", file=sys.stderr)
            sys.exit(2)
        except BaseException as error:
            self._fail_parent(f"{type(error).__name__}: {error}")
            raise

    def _fail_parent(self, error: str) -> None:
        from sweep.secrets import mask_secrets
        from sweep.tracking.search_runs import SearchTracking

        try:
            tracking = SearchTracking.for_sweep(self.config)
            if tracking.parent_run_id:
                tracking.fail_run(tracking.parent_run_id, mask_secrets(error))
        except Exception:  # the store itself may be what failed; the error is reported anyway
            log.warning("could not mark the sweep's parent run as failed", exc_info=True)

    def _sweep(self, arguments: List[str]) -> Any:
        from sweep.console import quiet_libraries
        from sweep.search.plan import plan_search

        plan = plan_search(self.config, arguments)
        quiet_libraries()
        from sweep.search.liveness import budget_used
        from sweep.search.storage import open_storage
        from sweep.search.study import open_study
        from sweep.search.summary import end_of_search
        from sweep.search.worker import BUDGET, Worker
        from sweep.secrets import mask_secrets
        from sweep.tracking.search_runs import SearchTracking
        from sweep.tracking.sweep_callback import write_stop_reason

        storage = open_storage(plan.storage_url)
        study = open_study(plan, storage)
        tracking = SearchTracking.for_sweep(self.config)
        worker = Worker(plan, study, storage, self._launch, self._compose, tracking.fail_run)
        tracking.close_orphan_runs(study)
        log.info(
            "study %s in %s: %d of %d trials used, %d slot(s) in this worker",
            plan.study_name,
            mask_secrets(plan.storage_url),
            budget_used(study),
            plan.search.n_trials,
            plan.search.n_jobs,
        )
        worker.run(plan.search.n_jobs)
        reason = worker.stop.reason or BUDGET
        write_stop_reason(self.config.hydra.sweep.dir, reason)
        end_of_search(plan, study, tracking, self.config, stop_reason=reason)
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
