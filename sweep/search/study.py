"""Create the study once (or load it, to resume), with the plan's sampler, pruner and directions."""

from __future__ import annotations

from sweep.config.errors import ConfigError
from sweep.search.plan import SearchPlan, grid_of


def open_study(plan: SearchPlan, storage):
    import optuna

    from sweep.search.pruners import FIRST_REPORT, pruner_for
    from sweep.search.samplers import SAMPLERS

    search = plan.search
    sampler = SAMPLERS.get(search.sampler)(search.seed, dict(search.sampler_options), lambda: grid_of(plan))
    study = optuna.create_study(
        storage=storage, study_name=plan.study_name, sampler=sampler, directions=list(search.directions), load_if_exists=True
    )
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
    return study


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
