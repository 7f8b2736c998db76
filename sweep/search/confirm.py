"""Search against the winner's curse: ``search.confirm=K`` re-runs the best trials with K new seeds.

The best trial of a search is chosen on one noisy validation split: among many trials, the one with the
luckiest seed tends to win. Once the study's budget is spent (``search.n_trials`` used, no trial running), the
top ``search.confirm_top`` complete trials (by the first objective, in its direction; a multi-objective study
is ranked on its first metric alone, since a Pareto front has no order; per group of ``search.confirm_within``
params when given: the nightly confirms each cell's best) are each run again with K new seeds:

- **Seeds**: the trial's own ``seed`` + 1000 x k for k = 1..K, skipping a seed some trial of the study used
  (only possible when ``seed`` itself is searched); seed + 1000k never meets the seeds 0..999 people type.
- **Exactly the trial**: its job's overrides as it ran them (replayed from its params where they were stored
  masked), ``seed`` replaced, and the ``search.*`` keys that may change between runs of one study
  (plan.RUNTIME_KEYS, ``search.confirm`` among them) set as the trial's run recorded them: the confirmation's
  MLflow params equal the trial's but for ``seed``, so the report groups them as one configuration.
- **Ordinary jobs**: launched like trials, children of the study's parent run, tagged ``confirm.of_trial`` and
  ``confirm.seed``; bound to their finished trial without pruning (sweep/search/binding.py). Not Optuna trials:
  the claims (sweep/search/claims.py) say who runs which, and hold the results.
- **Resume and workers**: the same command again skips what finished (its claim, or a finished MLflow run with
  those tags), runs what was interrupted or whose worker died, and never the search; several workers share the
  runs through the claims. A confirmation whose job fails is recorded failed, and the others go on.
- **Jobs**: one at a time per worker (slot 0), numbered 100000 + 1000 x trial + k (run names, job folders).

The ranking (sweep/search/confirmed.py) is printed and logged on the parent by the worker that ends the study.
"""

from __future__ import annotations

import ast
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

from sweep.config.secrets import mask_secrets
from sweep.pipeline.outcome import JobOutcome
from sweep.runtime.signals import Interrupted, signal_received
from sweep.search import claims as claimed
from sweep.search.plan import RUNTIME_KEYS, SearchPlan
from sweep.search.storage import file_of
from sweep.search.worker import binding_overrides, first_line, format_override

log = logging.getLogger("sweep")
SEED_STEP = 1000
JOB_BASE = 100_000


def selected(study, top: int, within: list[str]) -> list[tuple[tuple, list]]:
    """(group, its top ``top`` complete trials best first), groups in the order of their best trial. Ties: the
    earlier trial first (as the nightly report and kept models order them). Trials that meet search.constraints first."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    groups: dict[tuple, list] = {}
    from sweep.config.constraints import feasible

    # search.constraints: trials that meet them first, as the search's best (sweep/search/summary.py best_trials)
    for trial in sorted(complete, key=lambda t: (not feasible(t), sign * t.values[0], t.number)):
        group = tuple((key, trial.params.get(key)) for key in within)
        if len(groups.setdefault(group, [])) < top:
            groups[group].append(trial)
    return list(groups.items())


def new_seeds(base: int, count: int, used: set[int]) -> list[int]:
    seeds, k = [], 0
    while len(seeds) < count:
        k += 1
        if base + SEED_STEP * k not in used:
            seeds.append(base + SEED_STEP * k)
    return seeds


class Replay:
    """A finished trial's params handed back to the sampling code (Worker.job_overrides) as if suggested."""

    def __init__(self, trial):
        self.params, self.number = trial.params, trial.number

    def _get(self, name: str, *_, **__):
        return self.params[name]

    suggest_categorical = suggest_int = suggest_float = _get


def override_value(text: str) -> str:
    """An MLflow param value (str() of a config value) as an override's value."""
    if text == "None":
        return "null"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(str(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def without(overrides: list[str], keys: set[str]) -> list[str]:
    return [arg for arg in overrides if arg.split("=", 1)[0].lstrip("+~") not in keys]


@dataclass
class Item:
    trial: object  # the FrozenTrial confirmed
    k: int
    seed: int


class Confirmer:
    def __init__(
        self, plan: SearchPlan, study, tracking, launch: Callable, compose: Callable, replay: Callable, config=None,
    ):  # fmt: skip
        self.plan, self.study, self.tracking, self.config = plan, study, tracking, config
        self.launch = launch  # overrides, job number -> JobOutcome (the sweeper's launcher)
        self.compose = compose  # overrides -> validated JobConfig (for the trial's own seed)
        self.replay = replay  # a trial-like object -> its job's overrides without binding (Worker.job_overrides)
        self.lock_file = file_of(plan.storage_url)
        self.held: dict[tuple[int, int], claimed.Claim] = {}
        self.held_lock = threading.Lock()
        self.stopped = threading.Event()
        self.ran = 0

    # ------------------------------------------------------------------ what to run
    def items(self) -> list[Item]:
        """Every confirmation run wanted, round by round (every trial's first seed, then every second ...): a
        confirmation cut short still says something about every trial."""
        search = self.plan.search
        trials = [trial for _, group in selected(self.study, search.confirm_top, list(search.confirm_within)) for trial in group]
        used = {int(t.params["seed"]) for t in self.study.get_trials(deepcopy=False) if isinstance(t.params.get("seed"), int)}
        per_trial = []
        for trial in trials:
            base = int(self.compose(self.trial_overrides(trial)).root.seed)
            per_trial.append([Item(trial, k, seed) for k, seed in enumerate(new_seeds(base, search.confirm, used | {base}), 1)])
        return [items[k] for k in range(search.confirm) for items in per_trial]

    def trial_overrides(self, trial) -> list[str]:
        stored = trial.user_attrs.get("overrides")
        if stored and not any("***" in arg for arg in stored):
            return list(stored)
        return self.replay(Replay(trial)) + binding_overrides(self.plan.study_name, trial._trial_id, trial.number)

    def overrides(self, item: Item) -> list[str]:
        overrides = without(self.trial_overrides(item.trial), {"seed"})
        recorded = self.recorded_params(item.trial)
        aligned = []
        for key in RUNTIME_KEYS:
            want = recorded.get(key)
            if want is None or "***" in want or self.config is None:
                continue
            from omegaconf import OmegaConf

            have = OmegaConf.select(self.config, key, default=None)
            have = OmegaConf.to_container(have) if OmegaConf.is_config(have) else have
            if str(have) != want:  # changed since the trial ran (search.confirm added, n_trials raised)
                aligned.append(key)
                overrides = without(overrides, {key})
                value = override_value(want)
                overrides.append(f"{key}={value}" if value.startswith("[") or value == "null" else format_override(key, value))
        if aligned:
            log.info("confirmation of trial %d: %s as the trial recorded them", item.trial.number, ", ".join(aligned))
        return overrides + [f"seed={item.seed}"]

    def recorded_params(self, trial) -> dict[str, str]:
        run_id = trial.user_attrs.get("mlflow_run_id")
        if not run_id:
            return {}
        try:
            return dict(self.tracking.client.get_run(run_id).data.params)
        except Exception:  # the trial's run is gone: the current config stands
            return {}

    # ------------------------------------------------------------------ running them
    def run(self) -> int:
        """Run every confirmation no one has run or runs; returns how many ran here."""
        items = self.items()
        log.info("confirming %d trial(s) with %d new seed(s) each: %d run(s)", len(items) // max(1, self.plan.search.confirm),
                 self.plan.search.confirm, len(items))  # fmt: skip
        beat = threading.Thread(target=self._beat, name="sweep-confirm-beat", daemon=True)
        beat.start()
        try:
            for item in items:
                if signal_received():
                    raise Interrupted("interrupted")
                self._one(item)
        finally:
            self.stopped.set()
            beat.join(timeout=5)
        return self.ran

    def _one(self, item: Item) -> None:
        number, seed = item.trial.number, item.seed
        claim = claimed.read_claim(self.study, number, seed)
        if claim is not None and claim.state in claimed.DONE:
            return
        found = self.finished_run(number, seed)
        if found is not None:  # its job finished, its worker died before recording it
            self._record(claimed.Claim(number, seed, {"k": item.k}), claimed.FINISHED, value=self.value_of(found), run_id=found.info.run_id)
            return
        got = claimed.try_claim(self.study, self.lock_file, number, seed, item.k, self.plan.search.grace_period)
        if got is None:
            return  # another worker runs it
        claim, dead = got
        if dead is not None and dead.run_id:  # the last attempt's run, if its process could not end it
            self.tracking.close_run(dead.run_id, "failed", "its worker died before the confirmation ended")
        with self.held_lock:
            self.held[(number, seed)] = claim
        try:
            log.info("confirmation of trial %d, seed %d (%d of %d)", number, seed, item.k, self.plan.search.confirm)
            try:
                outcome = self.launch(self.overrides(item), JOB_BASE + SEED_STEP * number + item.k)
            except Interrupted:
                self._record(claim, claimed.RETURNED, error="interrupted")
                self._close(claim, None, "interrupted", "the search was interrupted")
                raise
            except Exception as error:  # the launcher failed (a worker process died): this one fails, the others go on
                outcome = JobOutcome("failed", error=f"{type(error).__name__}: {error}")
            self._told(claim, outcome)
        finally:
            with self.held_lock:
                self.held.pop((number, seed), None)

    def _told(self, claim: claimed.Claim, outcome: JobOutcome) -> None:
        metric = self.plan.search.metrics[0]
        run_id = outcome.run_id or (claimed.read_claim(self.study, claim.trial, claim.seed) or claim).run_id
        if outcome.state == "interrupted" or (signal_received() and outcome.state != "finished"):
            self._record(claim, claimed.RETURNED, error=outcome.error or "interrupted")
            self._close(claim, run_id, "interrupted", outcome.error or "interrupted")
            if signal_received():  # this process was signalled; a job interrupted alone (preempted) runs again on resume
                raise Interrupted("interrupted")
            return
        value = outcome.objective(metric, self.plan.monitor) if outcome.state == "finished" else None
        if value is None or not math.isfinite(value):
            error = outcome.error or f"objective not finite: {metric}={value}"
            self._record(claim, claimed.FAILED, run_id=run_id, error=mask_secrets(error)[:2000])
            self._close(claim, run_id, "failed", mask_secrets(error))
            log.warning("confirmation of trial %d, seed %d failed: %s", claim.trial, claim.seed, first_line(mask_secrets(error)))
            return
        self._record(claim, claimed.FINISHED, value=float(value), run_id=run_id)
        self.ran += 1
        if run_id:
            claimed.tag_run(self.tracking.uri, run_id, claim.trial, claim.seed, self.tracking.client)  # also if the job could not
            self._drop_model(run_id)
        log.info("confirmation of trial %d, seed %d: %s=%.4f", claim.trial, claim.seed, metric, value)

    def _record(self, claim: claimed.Claim, state: str, **fields) -> None:
        with self.held_lock:
            claim.record.update(state=state, **fields)
            claimed.write(self.study, claim)

    def _close(self, claim: claimed.Claim, run_id: str | None, state: str, error: str) -> None:
        run_id = run_id or (claimed.read_claim(self.study, claim.trial, claim.seed) or claim).run_id
        if run_id:
            self.tracking.close_run(run_id, state, error)

    def _drop_model(self, run_id: str) -> None:
        """``tracking.save_model=auto`` keeps the best trial's model only: never a confirmation's."""
        if self.plan.save_model != "auto":
            return
        from sweep.tracking.kept_models import KEPT_TAG, remove_model

        try:
            if self.tracking.client.get_run(run_id).data.tags.get(KEPT_TAG) == "true":
                remove_model(self.tracking.client, self.tracking.uri, run_id, "a confirmation run keeps no model")
        except Exception:  # tracking trouble: a model too many, nothing worse
            log.warning("run %s: its model could not be removed", run_id, exc_info=True)

    def finished_run(self, trial: int, seed: int):
        tracking = self.tracking
        query = (
            f"tags.mlflow.parentRunId = '{tracking.parent_run_id}' and tags.`{claimed.OF_TRIAL_TAG}` = '{trial}' "
            f"and tags.`{claimed.SEED_TAG}` = '{seed}' and tags.state = 'finished'"
        )
        runs = tracking.client.search_runs([tracking.experiment_id], filter_string=query, max_results=1)
        return runs[0] if runs else None

    def value_of(self, run) -> float | None:
        metric = self.plan.search.metrics[0]
        metrics = run.data.metrics
        return metrics.get(f"best_{metric}") if metric == self.plan.monitor else metrics.get(metric)

    def _beat(self) -> None:
        """This worker is alive: its record on the parent (other workers judge it by that) and its claims."""
        while not self.stopped.wait(self.plan.search.heartbeat_interval):
            try:
                self.tracking.beat()
            except Exception:  # the store is down for a moment: beat again next time
                log.debug("worker heartbeat failed", exc_info=True)
            with self.held_lock:
                for claim in list(self.held.values()):
                    try:
                        if claimed.still_mine(self.study, claim):
                            claim.record["beat"] = time.time()
                            claimed.write(self.study, claim)
                    except Exception:
                        log.debug("confirmation heartbeat failed", exc_info=True)


def running_view(study, grace_period: float):
    """The study as SearchTracking.close_orphan_runs reads it, a trial being confirmed counting as running: a
    worker that starts must not end another worker's confirmation run (its run carries the trial's number)."""
    live = {c.trial for c in claimed.read_claims(study).values() if c.live(grace_period)}

    class View:
        def get_trials(self, deepcopy: bool = False, states=None):
            import optuna

            trials = study.get_trials(deepcopy=deepcopy, states=states)
            if states is not None and optuna.trial.TrialState.RUNNING in states:
                trials = trials + [t for t in study.get_trials(deepcopy=False) if t.number in live]
            return trials

    return View()
