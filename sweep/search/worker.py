"""A search worker: ask the study for a trial, sample its overrides, launch its job, tell the result.

Several workers (threads of one sweeper, or other sweeper processes, or other nodes) share one study
through its storage. Each takes the next trial when its last one ends: there are no batches. The
budget (``search.n_trials``) is counted in the storage, so a restarted sweep continues where it stopped.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Callable

from sweep.errors import ConfigError
from sweep.outcome import JobOutcome
from sweep.search.liveness import UNCOUNTED, Heartbeat, budget_lock, budget_used, counts, is_dead
from sweep.search.plan import SearchPlan
from sweep.search.storage import file_of

log = logging.getLogger("sweep")


def format_override(key: str, value) -> str:
    if isinstance(value, float):
        return f"{key}={value!r}"
    if isinstance(value, str) and any(c in value for c in " ,()[]{}'\"=:"):
        escaped = value.replace("'", "\\'")
        return f"{key}='{escaped}'"
    return f"{key}={value}"


@dataclass
class Stop:
    reason: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, reason: str) -> None:
        with self.lock:
            self.reason = self.reason or reason


class Worker:
    def __init__(self, plan: SearchPlan, study, storage, launch: Callable, compose: Callable, on_dead_trial: Callable):
        self.plan, self.study, self.storage = plan, study, storage
        self.launch = launch  # overrides, job number -> JobOutcome
        self.compose = compose  # overrides -> the job's validated JobConfig (for the model's block count)
        self.on_dead_trial = on_dead_trial  # FrozenTrial -> None (closes its MLflow run)
        self.heartbeat = Heartbeat(storage, plan.search.heartbeat_interval)
        self.lock_file = file_of(plan.storage_url)
        self.ask_lock = threading.Lock()
        self.stop = Stop()
        self.ran = 0

    # ------------------------------------------------------------------ the loop
    def run(self, slots: int) -> None:
        threads = [threading.Thread(target=self._loop, name=f"sweep-slot-{i}") for i in range(slots)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.heartbeat.stop()

    def _loop(self) -> None:
        while self.stop.reason is None:
            trial = self._ask()
            if trial is None:
                return
            self._run_trial(trial)
            self._check_failure_rate()

    def _ask(self):
        with self.ask_lock, budget_lock(self.lock_file):
            self.fail_dead_trials()
            if budget_used(self.study) >= self.plan.search.n_trials:
                self.stop.set("budget")
                return None
            trial = self.study.ask()
            self.heartbeat.claim(trial._trial_id)
        if self.lock_file is None and self._surplus(trial):  # servers: two workers asked at once
            self.storage.set_trial_system_attr(trial._trial_id, UNCOUNTED, "surplus")
            self._tell_fail(trial, "surplus: the budget was used up by other workers")
            self.stop.set("budget")
            return None
        return trial

    def _surplus(self, trial) -> bool:
        before = [t for t in self.study.get_trials(deepcopy=False) if t.number <= trial.number and counts(t)]
        return len(before) > self.plan.search.n_trials

    def _run_trial(self, trial) -> None:
        try:
            overrides = self.sample(trial)
        except ConfigError as error:
            self._tell_fail(trial, str(error))
            self.stop.set(f"bad search space: {error}")
            return
        trial.set_user_attr("overrides", overrides)
        params = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
        log.info("trial %d: %s", trial.number, params)
        try:
            outcome = self.launch(overrides, trial.number)
        except Exception as error:  # the launcher itself failed (not the job): record, go on
            outcome = JobOutcome("failed", error=f"{type(error).__name__}: {error}")
        self.tell(trial, outcome)
        self.heartbeat.release(trial._trial_id)
        self.ran += 1

    # ------------------------------------------------------------------ sampling
    def sample(self, trial) -> list[str]:
        """The trial's overrides: choices first, then the base space and the chosen strategy's own."""
        plan = self.plan
        values: dict = {}
        for param in plan.choices:
            values[param.key] = param.suggest(trial, param.key, lambda: None)
        strategy = values.get("strategy", plan.default_strategy)
        own = plan.strategy_spaces.get(strategy, {})
        space = {**plan.base, **own}
        overrides = [arg for arg in plan.passthrough if arg.split("=", 1)[0].lstrip("+~") not in space]
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
        binding = [f"+trial.study_name={plan.study_name}", f"+trial.trial_id={trial._trial_id}"]
        return overrides + [format_override(k, v) for k, v in values.items()] + plan.job_overrides + binding

    # ------------------------------------------------------------------ results
    def tell(self, trial, outcome: JobOutcome) -> None:
        import optuna

        if outcome.run_id:
            trial.set_user_attr("mlflow_run_id", outcome.run_id)
        steps = outcome.pruned_step if outcome.state == "pruned" else outcome.metrics.get("optimizer_steps")
        if steps is not None:
            trial.set_user_attr("steps", int(steps))
        if outcome.state == "pruned":
            trial.set_user_attr("pruned_step", outcome.pruned_step)
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return
        if outcome.state == "finished":
            values = [outcome.objective(metric, self.plan.monitor) for metric in self.plan.search.metrics]
            if all(v is not None and math.isfinite(v) for v in values):
                self.study.tell(trial, values)
                return
            outcome = JobOutcome("failed", error=f"objective not finite: {dict(zip(self.plan.search.metrics, values))}")
        self._tell_fail(trial, outcome.error or "failed")

    def _tell_fail(self, trial, error: str) -> None:
        import optuna

        trial.set_user_attr("error", error[:2000])
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def fail_dead_trials(self) -> int:
        """Fail RUNNING trials whose worker died; their budget returns. Returns how many."""
        import optuna

        dead = 0
        for trial in self.study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
            if trial._trial_id in self.heartbeat.trial_ids or not is_dead(trial, self.plan.search.grace_period):
                continue
            try:
                self.storage.set_trial_system_attr(trial._trial_id, UNCOUNTED, "worker died")
                self.storage.set_trial_user_attr(trial._trial_id, "error", "its worker died; the trial returns to the budget")
                self.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            except (RuntimeError, ValueError):  # another worker failed it first
                continue
            log.warning("trial %d: its worker died; failed, and its budget returned", trial.number)
            self.on_dead_trial(trial)
            dead += 1
        return dead

    def _check_failure_rate(self) -> None:
        import optuna

        finished = [t for t in self.study.get_trials(deepcopy=False) if t.state.is_finished() and counts(t)]
        failed = sum(1 for t in finished if t.state == optuna.trial.TrialState.FAIL)
        rate = self.plan.search.max_failure_rate
        if len(finished) >= min(3, self.plan.search.n_trials) and failed / len(finished) > rate:
            self.stop.set(f"search.max_failure_rate={rate} exceeded: {failed} of {len(finished)} finished trials failed")
