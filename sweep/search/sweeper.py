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
from functools import partial
from typing import Any, List

from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig

from sweep.config.errors import ConfigError
from sweep.pipeline.outcome import JobOutcome
from sweep.runtime.signals import Interrupted

log = logging.getLogger("sweep")


def running_elsewhere(study) -> int:
    import optuna

    return len(study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]))


class OptunaSweeper(Sweeper):
    def __init__(self, **_: Any):
        self.config: DictConfig | None = None
        self.hydra_context = None
        self.launcher = None

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context, task_function=task_function, config=config)
        from sweep.distributed.slurm_jobs import use_squeue_without_sacct

        use_squeue_without_sacct(str(config.hydra.launcher.get("_target_", "")))

    def sweep(self, arguments: List[str]) -> Any:
        """Bad input exits 2 before anything is recorded. Otherwise this worker joins the study's parent
        run and always leaves it with how it ended (sweep/tracking/search_runs.py); a search that stops
        before its budget exits non-zero (1, or 128 + the signal's number when interrupted)."""
        from sweep.config.secrets import mask_secrets

        self.tracking = None
        try:
            return self._sweep(arguments)
        except ConfigError as error:  # bad input: one line, exit 2
            self._leave("failed", f"{error}")
            print(f"error: {mask_secrets(str(error))}", file=sys.stderr)
            sys.exit(2)
        except Interrupted as error:
            self._leave("interrupted", str(error))
            raise
        except SystemExit:  # a stopped search, already recorded
            raise
        except BaseException as error:
            self._leave("failed", f"{type(error).__name__}: {error}")
            raise

    def _leave(self, state: str, error: str) -> None:
        from sweep.config.secrets import mask_secrets

        if self.tracking is None:
            return
        try:
            self.tracking.log_summary({}, {"sweep.stop_reason": mask_secrets(error)[:5000]})
            self.tracking.leave(state, budget_met=False)
        except Exception:  # the store itself may be what failed; the error is reported anyway
            log.warning("could not record how this search worker ended", exc_info=True)

    def _sweep(self, arguments: List[str]) -> Any:
        from sweep.runtime.console import quiet_libraries
        from sweep.search.plan import plan_search

        plan = plan_search(self.config, arguments, compose=self._compose_config)
        quiet_libraries()
        from sweep.config.secrets import mask_secrets
        from sweep.report.hook import end_of_sweep
        from sweep.search.liveness import budget_used
        from sweep.search.storage import open_storage
        from sweep.search.study import open_study, study_identity
        from sweep.search.summary import describe_failures, end_of_search, failure_reasons
        from sweep.search.worker import BUDGET, NORMAL_ENDS, Worker
        from sweep.tracking.comparison import print_comparison
        from sweep.tracking.kept_models import keep_best_models
        from sweep.tracking.search_runs import SearchTracking
        from sweep.tracking.ui import save_runs_view

        search = plan.search
        worker: list = []  # Optuna's heartbeat check calls back into the worker made below
        storage = open_storage(
            plan.storage_url,
            (search.heartbeat_interval, search.grace_period),
            lambda study, trial: worker[0].returned_by_optuna(study, trial),
        )
        study = open_study(plan, storage)  # a study of other directions or metrics fails here, before MLflow
        if plan.warm_configurations:  # a new study only: resuming, or another worker's start, enqueues nothing
            from sweep.search.warm_start import warm_start

            warm_start(study, plan.warm_configurations, search.warm_start)
        identity = study_identity(study)
        self.tracking = tracking = SearchTracking.join(
            self.config, plan.study_name, mask_secrets(plan.storage_url), identity, search.grace_period
        )
        save_runs_view(tracking.client, tracking.experiment_id, plan.monitor, plan.mode, list(search.metrics))
        tag_run = self._constraints(plan, tracking)
        # only the best trial keeps its model (tracking.save_model=auto): the others' are removed as trials are told
        keep_best = None
        if plan.save_model == "auto":  # always: every trial keeps its model; never: none has one
            keep_best = partial(
                keep_best_models, study, tracking.client, tracking.uri, tracking.experiment_id, tracking.parent_run_id, identity
            )
        record_failure = partial(tracking.record_failed_trial, plan.study_name, identity)
        worker.append(
            Worker(plan, study, storage, self._launch, self._compose, tracking.close_run, tracking.beat, keep_best, record_failure, tag_run)
        )
        from sweep.search.confirm import running_view

        tracking.close_orphan_runs(running_view(study, search.grace_period))  # a trial being confirmed elsewhere counts as running
        worker[0].drop_outgrown_models()  # what a worker that died between telling and removing left
        log.info(
            "study %s in %s: %d of %d trials used, %d slot(s) in this worker",
            plan.study_name, mask_secrets(plan.storage_url), budget_used(study), search.n_trials, search.n_jobs,
        )  # fmt: skip
        worker[0].run(search.n_jobs)
        reason = worker[0].stop.reason or BUDGET
        said = worker[0].stop.said or BUDGET  # the sentence of a study-level stop (search.patience, ...)
        worker[0].drop_outgrown_models()  # the last trials told, from an up-to-date study
        if reason in NORMAL_ENDS and search.confirm > 0:
            self._confirm(plan, study, tracking, worker[0])
        final = tracking.leave("finished" if reason in NORMAL_ENDS else "failed", budget_met=reason in NORMAL_ENDS)
        self.tracking = None  # left: an exit below must not leave again
        if final is None:  # the study's report is the last worker's: it sees every trial, and prints it once
            print(
                f"this worker is done ({said}); {running_elsewhere(study)} trial(s) of study {plan.study_name} still run in other "
                "workers: the study's summary comes from the last one to end",
                flush=True,
            )
        else:
            end_of_search(plan, study, tracking, self.config, stop_reason=reason, stop_said=said)
            failures = describe_failures(failure_reasons(study))  # also in the parent's description, under the table
            if said != reason:  # a study-level stop: why, under the table
                failures = "\n\n".join(part for part in (f"stopped: {said}", failures) if part)
            if search.confirm > 0:
                from sweep.search.confirmed import end_of_confirmation

                failures = "\n\n".join(part for part in (failures, end_of_confirmation(study, plan, tracking)) if part)
            print_comparison(
                tracking.client, tracking.experiment_id, tracking.parent_run_id, tracking.uri, plan.monitor, plan.mode, footer=failures
            )
            end_of_sweep(tracking.client, tracking.experiment_id, tracking.parent_run_id, plan.monitor)  # the recommendation; never raises
        if reason not in NORMAL_ENDS:
            print(f"search stopped: {reason}", file=sys.stderr)
            sys.exit(1)
        return study

    def _constraints(self, plan, tracking):
        """search.constraints: the limits on the parent (the report's default limits), a warning where the sampler does
        not use them; returns how a trial's run is tagged with its constraint values."""
        import warnings

        from sweep.search.constraints import parent_tags, sampler_note
        from sweep.tracking.parents import shared

        limits = dict(plan.search.constraints)
        if not limits:
            return None
        tracking.log_summary({}, parent_tags(limits))
        note = sampler_note(plan.search.sampler, limits)
        if note:
            log.warning(note)
            warnings.filterwarnings("ignore", message="Constraints have been set, but CmaEsSampler")  # said once, above

        def tag_run(run_id: str, tags: dict) -> None:
            for key, value in tags.items():
                shared(tracking.client.set_tag, run_id, key, value)

        return tag_run

    def _confirm(self, plan, study, tracking, worker) -> None:
        """search.confirm: the best trials again with new seeds (sweep/search/confirm.py), once no trial runs anywhere:
        a worker that ends while others still run trials leaves the confirmation to them."""
        from sweep.search.confirm import Confirmer

        if running_elsewhere(study):
            log.info("trials still run in other workers: the confirmation is left to them")
            return
        Confirmer(plan, study, tracking, self._launch, self._compose, worker.job_overrides, self.config).run()

    def _launch(self, overrides: list[str], number: int) -> JobOutcome:
        from sweep.distributed.slurm_jobs import ended_by_cluster

        try:
            result = self.launcher.launch([overrides], initial_job_idx=number)[0]
        except Exception as error:  # submitit: the job ended without a result
            state = ended_by_cluster(error)
            if state is None:
                raise
            return JobOutcome("interrupted", error=f"its SLURM job ended without a result ({state}): cancelled, preempted or node lost")
        if result.status == JobStatus.COMPLETED and isinstance(result.return_value, JobOutcome):
            return result.return_value
        error = result._return_value  # the exception that escaped the job
        return JobOutcome("failed", error=f"{type(error).__name__}: {error}")

    def _compose_config(self, overrides: list[str]):
        return self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))

    def _compose(self, overrides: list[str]):
        from sweep.pipeline.validate import validate

        return validate(self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides)))
