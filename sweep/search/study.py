"""Create the study once (or load it, to resume), with the plan's sampler, pruner and directions.

A study's name is not its identity: delete ``outputs/optuna/<name>.db`` (or reset PostgreSQL) and the same
command makes a new study of the same name. So each study carries a UUID made by whoever created it
(user attribute ``sweep.study_id``); its MLflow parent run, its trials' runs and the removal of kept
models are bound to that, never to the name alone (sweep/tracking/search_runs.py, kept_models.py).
"""

from __future__ import annotations

import time
import uuid

from sweep.config.errors import ConfigError
from sweep.search.plan import SearchPlan, grid_of
from sweep.search.stopping import start_clock

IDENTITY = "sweep.study_id"
CREATOR_WAIT_S = 5.0  # a worker that loads a study just created waits this long for its creator to name it
SETTLE_S = 1.0  # a study from before identities: two workers naming it at once agree on the last write


def open_study(plan: SearchPlan, storage):
    import optuna

    from sweep.search.pruners import FIRST_REPORT, pruner_for
    from sweep.search.samplers import SAMPLERS

    search = plan.search
    sampler = SAMPLERS.get(search.sampler)(search.seed, dict(search.sampler_options), lambda: grid_of(plan))
    try:
        study = optuna.create_study(storage=storage, study_name=plan.study_name, sampler=sampler, directions=list(search.directions))
        study.set_user_attr(IDENTITY, uuid.uuid4().hex)  # we created it: we name it
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=plan.study_name, storage=storage, sampler=sampler)
    # the pruner's scale is the study's: a resumed study (and every job) keeps the one it started with
    if FIRST_REPORT not in study.user_attrs:
        study.set_user_attr(FIRST_REPORT, plan.first_report)
    study.pruner = pruner_for(search, study.user_attrs[FIRST_REPORT])
    if [d.name.lower() for d in study.directions] != list(search.directions):
        raise ConfigError(
            "search.directions",
            f"study {plan.study_name} exists with directions {[d.name.lower() for d in study.directions]}; use another search.study_name",
            list(search.directions),
        )
    stored = study.user_attrs.get("metrics")
    if stored is not None and stored != list(search.metrics):
        raise ConfigError(
            "search.metrics", f"study {plan.study_name} optimises {stored}; use another search.study_name", list(search.metrics)
        )
    study.set_user_attr("metrics", list(search.metrics))
    name_objectives(study, list(search.metrics))
    study_identity(study)
    start_clock(study)  # search.timeout counts from here, for good: a resumed study keeps its clock (sweep/search/stopping.py)
    return study


def study_identity(study) -> str:
    """The study's UUID. A study loaded right after another worker created it gets the creator's; one
    from before identities (or whose creator died before naming it) is named here."""
    deadline = time.monotonic() + CREATOR_WAIT_S
    while IDENTITY not in study.user_attrs:
        if study.get_trials(deepcopy=False) or time.monotonic() > deadline:
            study.set_user_attr(IDENTITY, uuid.uuid4().hex)
            time.sleep(SETTLE_S)  # no compare-and-set in Optuna's storages: whoever wrote last, all read it
            break
        time.sleep(0.1)
    return study.user_attrs[IDENTITY]


def name_objectives(study, metrics: list[str]) -> None:
    """optuna-dashboard and Optuna's plots show these names instead of "Objective 0". A resumed study
    has them already (its metrics were checked above): only a new one, or one from before, is written."""
    import warnings

    import optuna

    if study.metric_names == metrics:
        return
    with warnings.catch_warnings():  # set_metric_names is marked experimental since Optuna 3.2
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(metrics)
