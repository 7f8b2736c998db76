"""Study-level stops: ``search.patience`` (with ``search.min_delta``), ``search.timeout``, ``search.target``.

Where a stop is decided: by whichever worker next asks for a trial (sweep/search/worker.py ``_ask``, under the budget
lock), from the study's storage, which every worker (thread, process, node) shares: its complete trials, in the order
they completed, and its clock. So a stop fires at the first ask after the trial that made it true, whoever ran that
trial; trials already in flight finish. The worker that finds it writes it in the study's system attributes
(``sweep:stop``) with the setting it fired under: every other worker with the same setting stops on it at its next
ask, even where a later result (a trial that was in flight) would make the condition false again. A worker started
with another setting (``search.patience`` raised, ``search.timeout`` lengthened, ``search.target`` changed or null)
judges the study afresh: that is how a stopped study is continued.

- Patience counts complete trials only. A pruned trial has no final value (it stopped at an intermediate one the
  pruner judged hopeless), and pruning runs of several trials are ordinary while the sampler explores: counting them
  would end a search as pruning starts to work. Failed trials are not results at all. An improvement is a value
  better than the best so far by more than ``min_delta`` (the first complete trial is one); with
  ``search.constraints`` only a feasible trial improves (an infeasible one counts as a trial without improvement).
- The clock is the study's: ``sweep:started`` (epoch seconds), written when the study is first opened (for a study
  from before, its first trial's start). A resumed study keeps it: ``search.timeout`` is a deadline, not a fresh
  budget per start (raise it to continue a study that reached it).
- Patience and target look at the first of ``search.metrics`` (a multi-objective study, too), in its direction.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sweep.config.constraints import feasible

PATIENCE, TIMEOUT, TARGET = "search.patience", "search.timeout", "search.target"
STUDY_STOPS = (TARGET, PATIENCE, TIMEOUT)  # checked in this order: the first that holds is the reason given
STARTED = "sweep:started"  # study system attribute: when its clock started (epoch seconds)
STOP = "sweep:stop"  # study system attribute: {"reason", "detail", "setting"}


def study_attrs(study) -> dict:
    return study._storage.get_study_system_attrs(study._study_id)


def start_clock(study) -> float:
    """The study's start (epoch seconds), written once: by its first opener, or from its first trial for an older study."""
    attrs = study_attrs(study)
    if STARTED in attrs:
        return float(attrs[STARTED])
    starts = [t.datetime_start.timestamp() for t in study.get_trials(deepcopy=False) if t.datetime_start is not None]
    study._storage.set_study_system_attr(study._study_id, STARTED, min(starts) if starts else time.time())
    return float(study_attrs(study)[STARTED])  # two openers at once: both read what was written last


def setting(search, reason: str):
    """The setting a stop fired under: a stored stop holds for workers with the same one."""
    return {PATIENCE: [search.patience, search.min_delta], TIMEOUT: search.timeout, TARGET: search.target}[reason]


def active(search) -> bool:
    return search.patience is not None or search.timeout is not None or search.target is not None


def completed_in_order(study) -> list:
    import optuna

    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    return sorted(complete, key=lambda t: (t.datetime_complete or datetime.max, t.number))


def patience_stop(trials: list, sign: float, patience: int, min_delta: float) -> str | None:
    """``trials``: complete, in completion order; ``sign``: +1 maximise, -1 minimise."""
    reference, since, best = None, 0, None
    for trial in trials:
        value = sign * trial.values[0]
        if feasible(trial) and (reference is None or value > reference + min_delta):
            reference, since = value, 0
        else:
            since += 1
        if feasible(trial) and (best is None or value > sign * best.values[0]):
            best = trial
    if since < patience:
        return None
    above = f" above {min_delta:g}" if min_delta > 0 else ""
    said = f"best {best.values[0]:.4g} at trial {best.number}" if best is not None else "no trial met search.constraints"
    return f"{PATIENCE}={patience}: no improvement{above} in the last {patience} finished trials ({said})"


def target_stop(trials: list, sign: float, target: float, metric: str) -> str | None:
    reached = [t for t in trials if feasible(t) and sign * t.values[0] >= sign * target]
    if not reached:
        return None
    first = reached[0]
    return f"{TARGET}={target:g}: reached by trial {first.number} ({metric} {first.values[0]:.4g})"


def timeout_stop(started: float, timeout: float, now: float) -> str | None:
    elapsed = now - started
    if elapsed < timeout:
        return None
    since = datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{TIMEOUT}={timeout:g}: the study's clock reached {elapsed:.0f} s (it started {since}; a resumed study keeps its clock)"


def study_stop(study, search, started: float, now: float | None = None) -> tuple[str, str] | None:
    """(reason, sentence) if the study must stop now, else None. Reads the storage: every worker judges alike."""
    if not active(search):
        return None
    stored = study_attrs(study).get(STOP)
    if stored and stored.get("reason") in STUDY_STOPS and stored.get("setting") == setting(search, stored["reason"]):
        return stored["reason"], stored["detail"]
    import optuna

    sign = 1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1.0
    metric = (study.user_attrs.get("metrics") or ["the objective"])[0]
    trials = completed_in_order(study) if search.patience is not None or search.target is not None else []
    checks = {
        TARGET: lambda: target_stop(trials, sign, search.target, metric) if search.target is not None else None,
        PATIENCE: lambda: patience_stop(trials, sign, search.patience, search.min_delta) if search.patience is not None else None,
        TIMEOUT: lambda: timeout_stop(started, search.timeout, time.time() if now is None else now) if search.timeout else None,
    }
    for reason in STUDY_STOPS:
        detail = checks[reason]()
        if detail is not None:
            return reason, detail
    return None


def record_stop(study, search, reason: str, detail: str) -> None:
    """Every worker of the study sees it at its next ask (those with the same setting stop on it)."""
    stored = study_attrs(study).get(STOP)
    if stored and stored.get("reason") == reason and stored.get("setting") == setting(search, reason):
        return
    value = {"reason": reason, "detail": detail, "setting": setting(search, reason), "at": time.time()}
    study._storage.set_study_system_attr(study._study_id, STOP, value)
