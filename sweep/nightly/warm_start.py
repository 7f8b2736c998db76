"""``nightly.warm_start``: a new night's first trial of each cell is that cell's best configuration of the previous
night (sweep/nightly/matrix.py ``top_up`` enqueues it with the cell's model and strategy); the other trials are
sampled as before. Enqueued rather than added as finished trials, for the reason sweep/search/warm_start.py gives:
measured again tonight, it is tonight's result."""

from __future__ import annotations

from sweep.nightly.matrix import NightlyConfig
from sweep.search.warm_start import in_space


def previous_bests(storage, config: NightlyConfig, date: str, direction: str, plan=None) -> tuple[str | None, dict]:
    """The previous night's study name and, per cell of tonight's matrix, the params of its best complete trial (those
    tonight's search, ``plan``, could sample: a range narrowed since, or a choice removed, is sampled afresh)."""
    import optuna

    from sweep.nightly.report import best_per_cell, previous_night  # the report's own reading of a night

    name = previous_night(optuna.get_all_study_names(storage), config.study_prefix, date)
    if name is None:
        return None, {}
    study = optuna.load_study(study_name=name, storage=storage)
    trials = {trial.number: trial for trial in study.get_trials(deepcopy=False)}
    starts = {}
    for cell, best in best_per_cell(study, direction).items():
        if cell in config.cells and best.trial is not None:
            params = {key: value for key, value in trials[best.trial].params.items() if key not in ("model", "strategy")}
            starts[cell] = in_space(plan, params) if plan is not None else params
    return name, starts
