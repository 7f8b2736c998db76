"""A search worker: ask the study for a trial, sample its overrides, launch its job, tell the result.

Several workers (threads of one sweeper, or other sweeper processes, or other nodes) share one study
through its storage. Each takes the next trial when its last one ends: there are no batches. The
budget (``search.n_trials``) is counted in the storage, so a restarted sweep continues where it stopped.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from sweep.config.errors import ConfigError
from sweep.config.paths import is_disk_full
from sweep.config.secrets import mask_secrets
from sweep.distributed.slurm_jobs import SLURM_JOB_ATTR, cancel
from sweep.pipeline.outcome import JobOutcome
from sweep.runtime.signals import Interrupted, deferred, signal_received
from sweep.search.liveness import (
    FAILED_BY_TRIAL,
    RETURNED,
    REUSED_FREE,
    Heartbeat,
    budget_lock,
    budget_used,
    counts,
    is_dead,
    optuna_heartbeat,
)
from sweep.search.plan import SearchPlan
from sweep.search.space import describe_params
from sweep.search.stopping import PATIENCE, TARGET, TIMEOUT, record_stop, start_clock, study_stop
from sweep.search.storage import file_of
from sweep.tracking.reuse import REUSED_FROM

log = logging.getLogger("sweep")
BUDGET, GRID_DONE, INTERRUPTED = "budget", "grid exhausted", "interrupted"
# a search that ends otherwise exits non-zero; the study-level stops (sweep/search/stopping.py) end it normally
NORMAL_ENDS = (BUDGET, GRID_DONE, PATIENCE, TIMEOUT, TARGET)
SLOT_GRACE_S = 15  # after a signal, how long the other slots get to see their jobs end


def first_line(error: str) -> str:
    """An error's first line: what a console line or a table cell can hold (the rest is on the trial's run)."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else "(no message)"


def format_override(key: str, value) -> str:
    if isinstance(value, float):
        return f"{key}={value!r}"
    if isinstance(value, str) and any(c in value for c in " ,()[]{}'\"=:"):
        escaped = value.replace("'", "\\'")
        return f"{key}='{escaped}'"
    return f"{key}={value}"


def binding_overrides(study_name: str, trial_id: int, number: int) -> list[str]:
    """How a job finds its trial (sweep/search/binding.py)."""
    return [f"+trial.study_name={study_name}", f"+trial.trial_id={trial_id}", f"+trial.number={number}"]


@dataclass
class Stop:
    reason: str | None = None
    detail: str | None = None  # the sentence that says why, where the reason is a kind (search.patience, ...)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, reason: str, detail: str | None = None) -> None:
        with self.lock:
            if self.reason is None:
                self.reason, self.detail = reason, detail

    @property
    def said(self) -> str | None:
        """Why this worker stopped, in words."""
        return self.detail or self.reason

    @property
    def interrupted(self) -> bool:
        return self.reason == INTERRUPTED


class Worker:
    def __init__(
        self, plan: SearchPlan, study, storage, launch: Callable, compose: Callable, close_run: Callable, beat: Callable,
        keep_best: Callable | None = None, record_failure: Callable | None = None, tag_run: Callable | None = None,
    ):  # fmt: skip
        self.plan, self.study, self.storage = plan, study, storage
        self.tag_run = tag_run  # MLflow run id, tags -> None: a trial's constraint values on its run
        self.started = start_clock(study)  # the study's clock (search.timeout), kept across restarts
        self.record_failure = record_failure  # trial number, params, overrides, error -> None: a FAILED run for a trial that opened none
        self.keep_best = keep_best  # () -> None: removes the models of trials no longer best (sweep/tracking/kept_models.py)
        self.launch = launch  # overrides, job number -> JobOutcome
        self.compose = compose  # overrides -> the job's validated JobConfig (for the model's block count)
        self.close_run = close_run  # MLflow run id, state, error -> None: ends a run its job could not end
        self.heartbeat = Heartbeat(storage, plan.search.heartbeat_interval, beat_worker=beat)
        self.lock_file = file_of(plan.storage_url)
        self.ask_lock = threading.Lock()
        self.stop = Stop()

    # ------------------------------------------------------------------ the loop
    def run(self, slots: int) -> None:
        """Slot 0 runs here, in the main thread, which alone receives signals; the others in threads.

        Interrupted in the main thread (this process got SIGINT or SIGTERM, forwarded to the job
        processes, which end their own runs unless joblib stops them first): no slot takes another
        trial, the other slots get a bounded wait, then every trial still claimed returns to the budget
        and its run is ended as interrupted. A normal end waits for every slot's trial to finish.
        """
        threads = [threading.Thread(target=self._slot, name=f"sweep-slot-{i}", daemon=True) for i in range(1, slots)]
        for thread in threads:
            thread.start()
        try:
            self._loop()
            for thread in threads:  # a signal may still come while the last trials finish
                thread.join()
        except Interrupted:
            self.stop.set(INTERRUPTED)
            log.warning("interrupted: ending the %d trial(s) in flight and returning them to the budget", len(self.heartbeat.claimed()))
            for trial_id in self.heartbeat.claimed():  # trials on a cluster end with their jobs: cancel those first
                cancel(self.storage.get_trial(trial_id).user_attrs.get(SLURM_JOB_ATTR))
            deadline = time.monotonic() + SLOT_GRACE_S  # signals are ignored from here on (sweep/runtime/signals.py)
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            for trial_id in self.heartbeat.claimed():
                self.return_trial(self.storage.get_trial(trial_id), "interrupted", "the search was interrupted")
            raise
        finally:
            self.heartbeat.stop()

    def _slot(self) -> None:
        try:
            self._loop()
        except BaseException as error:  # a thread's exception would only be printed: stop the worker, say why
            log.exception("a search slot failed")
            self.stop.set(mask_secrets(f"worker error: {type(error).__name__}: {error}"))

    def _loop(self) -> None:
        while self.stop.reason is None:
            trial = self._ask()
            if trial is None:
                return
            try:
                self._run_trial(trial)
                self._check_failure_rate()
            except Interrupted:  # this process was signalled (main thread): the trial runs again on resume
                self.stop.set(INTERRUPTED)
                self.return_trial(trial, "interrupted", "the search was interrupted")
                raise
            except Exception as error:  # storage or tracking trouble, not the trial's: stop this worker, say why
                log.exception("trial %d: the worker failed", trial.number)
                self.return_trial(trial, "failed", f"worker error: {type(error).__name__}: {error}")
                self.stop.set(mask_secrets(f"worker error: {type(error).__name__}: {error}"))
            finally:
                self.heartbeat.release(trial._trial_id)

    def _ask(self):
        import optuna

        while True:
            with self.ask_lock, budget_lock(self.lock_file):
                self.fail_dead_trials()
                stop = study_stop(self.study, self.plan.search, self.started)  # from the storage: every worker judges alike
                if stop is not None:
                    record_stop(self.study, self.plan.search, *stop)
                    self.stop.set(*stop)
                    return None
                if budget_used(self.study) < self.plan.search.n_trials:
                    with deferred():  # never a trial asked but not claimed: run() returns every claimed one
                        trial = self.study.ask()
                        self.heartbeat.claim(trial._trial_id)
                    break
                in_flight = self.heartbeat.claimed()
            if not in_flight:
                self.stop.set(BUDGET)
                return None
            # The budget is met counting this worker's trials in flight, but one of them may yet return
            # (its SLURM job cancelled, its job interrupted): stopping now would lose that budget. Wait
            # for one to end, then count again (regression: a cancelled job's trial, noticed after the
            # other slot had stopped, left the search one trial short).
            while self.stop.reason is None and set(self.heartbeat.claimed()) & set(in_flight) == set(in_flight):
                time.sleep(0.5)
            if self.stop.reason is not None:
                return None
        if self.lock_file is None and self._surplus(trial):  # servers: two workers asked at once
            trial.set_user_attr("error", "surplus: the budget was used up by other workers")
            self._tell(trial, state=optuna.trial.TrialState.FAIL)  # not the trial's doing: not counted
            self.heartbeat.release(trial._trial_id)
            return None  # this slot ends; the others end as theirs do, or ask again for a trial that returns
        return trial

    def _surplus(self, trial) -> bool:
        # trial ids grow with every ask in every storage: they order the asks of all workers
        before = [t for t in self.study.get_trials(deepcopy=False) if t._trial_id <= trial._trial_id and counts(t)]
        return len(before) > self.plan.search.n_trials

    def _run_trial(self, trial) -> None:
        try:
            overrides = self.sample(trial)
        except Exception as error:  # a space that cannot be sampled or composed fails every trial alike
            message = str(error) if isinstance(error, ConfigError) else f"{type(error).__name__}: {error}"
            if isinstance(error, ConfigError) and error.key == "paths.output_dir":  # it filled up or went away meanwhile
                self.return_trial(trial, "failed", message)
                self.stop.set(mask_secrets(message))
                return
            self._tell_fail(trial, message)
            self.stop.set(f"bad search space: {mask_secrets(message)}")
            return
        trial.set_user_attr("overrides", [mask_secrets(arg) for arg in overrides])
        log.info("trial %d: %s", trial.number, describe_params(trial.params))
        try:
            outcome = self.launch(overrides, trial.number)
        except Interrupted:
            if threading.current_thread() is threading.main_thread():
                raise  # this process was signalled
            outcome = JobOutcome("interrupted", error="its job was interrupted")  # only the job's process was
        except Exception as error:  # the launcher itself failed (a worker process died): record, go on
            outcome = JobOutcome("failed", error=f"{type(error).__name__}: {error}")
        if (self.stop.interrupted or signal_received()) and outcome.state not in ("finished", "pruned"):
            outcome = JobOutcome("interrupted", error="the search was interrupted", run_id=outcome.run_id)
        self.tell(trial, outcome)

    # ------------------------------------------------------------------ sampling
    def sample(self, trial) -> list[str]:
        """The trial's overrides: choices first, then the base space and the chosen strategy's own; then its binding."""
        return self.job_overrides(trial) + binding_overrides(self.plan.study_name, trial._trial_id, trial.number)

    def job_overrides(self, trial) -> list[str]:
        """What the trial's job composes, without its binding: also replayed from a finished trial's params (sweep/search/confirm.py)."""
        plan = self.plan
        values: dict = {}
        for param in plan.choices:
            values[param.key] = param.suggest(trial, param.key, lambda: None)
        strategy = values.get("strategy", plan.default_strategy)
        own = plan.strategy_spaces.get(strategy, {})
        space = {**plan.base, **own}
        searched = set(space) | set(values)
        overrides = [arg for arg in plan.passthrough if arg.split("=", 1)[0].lstrip("+~") not in searched]
        blocks_cache: list = []

        def blocks() -> int | None:
            if not blocks_cache:
                from pathlib import Path

                from sweep.zoo.loader import quick_block_count

                job = self.compose(overrides + [format_override(k, v) for k, v in values.items()])
                blocks_cache.append(quick_block_count(job.root.model, Path(job.root.paths.cache_dir)))
            return blocks_cache[0]

        for key, param in space.items():
            name = f"{strategy}/{key}" if plan.searches_strategy and key in own else key
            values[key] = param.suggest(trial, name, blocks)
        return overrides + [format_override(k, v) for k, v in values.items()] + plan.job_overrides

    # ------------------------------------------------------------------ results
    def tell(self, trial, outcome: JobOutcome) -> None:
        import optuna

        steps = outcome.pruned_step if outcome.state == "pruned" else outcome.metrics.get("optimizer_steps")
        if steps is not None:
            trial.set_user_attr("steps", int(steps))
        if outcome.state == "pruned":
            self._tell(trial, state=optuna.trial.TrialState.PRUNED)
            return
        if outcome.state == "interrupted":
            self.return_trial(trial, "interrupted", outcome.error or "interrupted")
            return
        if outcome.state == "failed" and is_disk_full(outcome.error):  # not the trial's doing, and every next trial would fail alike
            self.return_trial(trial, "failed", outcome.error or "no space left on device")
            self.stop.set(f"a disk is full: {first_line(outcome.error)}")
            return
        if outcome.state == "finished":
            values = [outcome.objective(metric, self.plan.monitor) for metric in self.plan.search.metrics]
            if all(v is not None and math.isfinite(v) for v in values):
                self.set_constraints(trial, outcome)
                self.count_reuse(trial, outcome)
                self._tell(trial, values)
                self.drop_outgrown_models()
                return
            outcome = JobOutcome(
                "failed", error=f"objective not finite: {dict(zip(self.plan.search.metrics, values))}", run_id=outcome.run_id
            )
        self._tell_fail(trial, outcome.error or "failed")
        # the job ends its own run; if its process died first, the run is ended here
        frozen = self.storage.get_trial(trial._trial_id)
        run_id = outcome.run_id or frozen.user_attrs.get("mlflow_run_id")
        if run_id:
            self.close_run(run_id, "failed", mask_secrets(outcome.error or "failed"))
        elif self.record_failure is not None:  # it failed before its job could open a run: the table gets its row, with the error
            try:
                self.record_failure(
                    trial.number, frozen.params, frozen.user_attrs.get("overrides", []), mask_secrets(outcome.error or "failed")
                )
            except Exception:  # tracking trouble: the trial's own record (its error attribute) stands
                log.warning("trial %d: its failure could not be recorded in MLflow", trial.number, exc_info=True)

    def set_constraints(self, trial, outcome: JobOutcome) -> None:
        """search.constraints: Optuna's constraint values, set before the trial is told (the sampler reads them then),
        and the same on the trial's MLflow run (sweep/search/constraints.py)."""
        limits = dict(self.plan.search.constraints)
        if not limits:
            return
        from sweep.config.constraints import constraint_values
        from sweep.search.constraints import run_tags

        values = constraint_values(limits, outcome.metrics)
        for name, value in values.items():
            trial.set_constraint(name, value)
        run_id = outcome.run_id or trial.user_attrs.get("mlflow_run_id")
        if run_id and self.tag_run is not None:
            try:
                self.tag_run(run_id, run_tags(values))
            except Exception:  # tracking trouble: the study holds the values
                log.warning("trial %d: its constraint values could not be tagged on its run", trial.number, exc_info=True)

    def count_reuse(self, trial, outcome: JobOutcome) -> None:
        """A trial answered from an earlier run (search.reuse): tagged with it, and off the budget unless
        ``search.reuse_counts``. At most ``n_trials`` go free, so a sampler that keeps proposing points it has
        seen (TPE on a small space) still ends."""
        if outcome.reused_from is None:
            return
        trial.set_user_attr(REUSED_FROM, outcome.reused_from)
        if self.plan.search.reuse_counts:
            return
        free = sum(1 for other in self.study.get_trials(deepcopy=False) if REUSED_FREE in other.system_attrs)
        if free < self.plan.search.n_trials:
            self.storage.set_trial_system_attr(trial._trial_id, REUSED_FREE, outcome.reused_from)

    def _tell(self, trial, values=None, state=None) -> None:
        try:
            self.study.tell(trial, values, state=state, skip_if_finished=True)
        except RuntimeError as error:
            # the grid sampler signals "every point visited" by calling study.stop(), which raises
            # outside study.optimize; the trial is stored before that (optuna/study/_tell.py)
            if "Study.stop" not in str(error):
                raise
            self.stop.set(GRID_DONE)

    def drop_outgrown_models(self) -> None:
        if self.keep_best is None:
            return
        try:
            self.keep_best()
        except Exception:  # tracking trouble: the next trial told (or the sweeper's end) removes them
            log.warning("could not remove the models of trials that are no longer the best", exc_info=True)

    def _tell_fail(self, trial, error: str) -> None:
        """A failure of the trial's own making: it counts against the budget."""
        import optuna

        trial.set_user_attr("error", mask_secrets(error)[:2000])
        self.storage.set_trial_system_attr(trial._trial_id, FAILED_BY_TRIAL, True)
        self._tell(trial, state=optuna.trial.TrialState.FAIL)
        log.warning("trial %d failed: %s", trial.number, first_line(mask_secrets(error)))  # as it fails, not only at the end

    def return_trial(self, trial, state: str, reason: str) -> None:
        """Fail a trial that was not at fault (interrupted, its worker died): its budget returns, so a
        resumed search runs it again; its MLflow run is ended with ``state``."""
        import optuna

        try:
            self.storage.set_trial_system_attr(trial._trial_id, RETURNED, reason)  # outranks a concurrent _tell_fail
            self.storage.set_trial_user_attr(trial._trial_id, "error", f"{reason}; the trial returns to the budget")
            self._tell(trial.number, state=optuna.trial.TrialState.FAIL)
        except (RuntimeError, ValueError):  # it finished meanwhile: it keeps its result
            return
        finally:
            self.heartbeat.release(trial._trial_id)
        frozen = self.storage.get_trial(trial._trial_id)
        self.enqueue_again(frozen)
        cancel(frozen.user_attrs.get(SLURM_JOB_ATTR))  # a SLURM job still running it (its sweeper died) would run on for nothing
        if frozen.user_attrs.get("mlflow_run_id"):
            self.close_run(frozen.user_attrs["mlflow_run_id"], state, reason)

    def enqueue_again(self, frozen) -> None:
        """An enqueued point (a nightly cell, sweep/nightly/matrix.py) returns with its budget: the next ask runs it."""
        fixed = frozen.system_attrs.get("fixed_params")
        if fixed:
            self.study.enqueue_trial(fixed, skip_if_exists=False)

    def returned_by_optuna(self, study, trial) -> None:
        """Optuna's heartbeat check failed ``trial`` (already FAIL, unmarked: not counted); end its run."""
        log.warning("trial %d: its worker stopped beating; failed, and its budget returned", trial.number)
        self.enqueue_again(trial)
        cancel(trial.user_attrs.get(SLURM_JOB_ATTR))
        if trial.user_attrs.get("mlflow_run_id"):
            self.close_run(trial.user_attrs["mlflow_run_id"], "failed", "its worker stopped beating (the trial returned to the budget)")

    def fail_dead_trials(self) -> int:
        """Fail RUNNING trials whose worker died; their budget returns. Returns how many."""
        import optuna

        if optuna_heartbeat(self.storage):  # database storages: Optuna's own heartbeat, for owners elsewhere
            optuna.storages.fail_stale_trials(self.study)  # calls returned_by_optuna for each
        dead = 0
        for trial in self.study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
            if trial._trial_id in self.heartbeat.trial_ids or not is_dead(trial, self.plan.search.grace_period, self.storage):
                continue
            log.warning("trial %d: its worker died; failed, and its budget returned", trial.number)
            self.return_trial(trial, "failed", "its worker died")
            dead += 1
        return dead

    def _check_failure_rate(self) -> None:
        import optuna

        finished = [t for t in self.study.get_trials(deepcopy=False) if t.state.is_finished() and counts(t)]
        failed = sum(1 for t in finished if t.state == optuna.trial.TrialState.FAIL)
        rate = self.plan.search.max_failure_rate
        if len(finished) >= min(3, self.plan.search.n_trials) and failed / len(finished) > rate:
            self.stop.set(f"search.max_failure_rate={rate} exceeded: {failed} of {len(finished)} finished trials failed")
