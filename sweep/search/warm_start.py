"""``search.warm_start``: a new study's first trials are the best configurations of earlier work.

Sources (``search.warm_start``):
- ``<study name>``: a study in this search's storage (a previous night, yesterday's search of a related setting);
- ``<storage URL>::<study name>``: a study elsewhere (``sqlite:///other/optuna.db::night-2026-12-05``; ``::`` because
  Hydra's override grammar takes no ``#`` unquoted);
- ``mlflow:<experiment>``: the finished fine-tuning runs of an MLflow experiment in this search's tracking store
  (a grid, any runs), ranked by ``best_<the first search metric>``.

The best ``search.warm_start_top`` configurations (feasible trials first under ``search.constraints``; with several
objectives, the Pareto front of the source, then the rest by the first objective) become the study's first trials by
``enqueue_trial``: Optuna runs them before it samples, with the values of every parameter this search also searches
(a parameter it does not search is dropped; one it searches but the source lacks is sampled as usual).

Why enqueued, not given to the sampler as completed trials (``add_trial``): the source's values were measured under
another setting (another night's code and data, another budget or task); re-measured here they are this study's own
results, which the sampler, the pruner (whose medians need intermediate values the source may not have) and the
report can trust, and they count against the budget like any trial. ``add_trial`` would feed the sampler numbers it
cannot tell from this study's. The cost is K trials of the budget, spent on configurations known to be good.

Only a study with no trial yet is warm-started: resuming, or a second worker of the same study, enqueues nothing
(and ``skip_if_exists`` keeps two workers starting together from enqueueing a configuration twice).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from sweep.config.errors import ConfigError

log = logging.getLogger("sweep")
KEY = "search.warm_start"
MLFLOW_PREFIX = "mlflow:"
STARTED_FROM = "sweep:warm_started_from"  # study system attribute: the source, once enqueued


@dataclass(frozen=True)
class Source:
    kind: str  # study | mlflow
    name: str  # the study's name, or the experiment's
    storage_url: str | None = None  # a study's storage (None: the experiment's tracking store)

    def describe(self) -> str:
        from sweep.config.secrets import mask_secrets

        if self.kind == "mlflow":
            return f"the finished runs of experiment {self.name}"
        return f"study {self.name} in {mask_secrets(self.storage_url or '')}"


SEPARATOR = "::"


def parse_source(text: str, storage_of) -> Source:
    """``text`` as the user gave it; ``storage_of(study name)``: where this search keeps a study of that name (its
    search.storage, or the default sqlite file per study under paths.output_dir), for a bare study name."""
    text = text.strip()
    if not text:
        raise ConfigError(KEY, f"must name a study, <storage URL>{SEPARATOR}<study> or mlflow:<experiment>", text)
    if text.startswith(MLFLOW_PREFIX):
        return Source("mlflow", text[len(MLFLOW_PREFIX) :])
    if SEPARATOR in text:
        url, _, name = text.rpartition(SEPARATOR)
        return Source("study", name, url)
    return Source("study", text, storage_of(text))


def names_searched(plan) -> set[str]:
    """The Optuna parameter names this search can sample (sweep/search/worker.py job_overrides names them)."""
    names = {param.key for param in plan.choices} | set(plan.base)
    for strategy, space in plan.strategy_spaces.items():
        if plan.searches_strategy:  # each strategy's own knobs under its name: a conditional space
            names |= {f"{strategy}/{key}" for key in space}
        elif strategy == plan.default_strategy:
            names |= set(space)
    return names


def study_configurations(source: Source, count: int) -> tuple[list[dict], set[str]]:
    """The best ``count`` complete trials' params of a study, and every param name it searched."""
    import optuna

    from sweep.config.constraints import feasible
    from sweep.runtime.databases import sqlite_file
    from sweep.search.storage import open_storage

    path = sqlite_file(source.storage_url)
    if path is not None and not path.is_file():  # never create a database by looking for a study in it
        raise ConfigError(KEY, f"no study {source.name!r}: {path} does not exist", source.name)
    storage = open_storage(source.storage_url)
    names = [summary.study_name for summary in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if source.name not in names:
        raise ConfigError(KEY, f"no study {source.name!r} in that storage; studies: {', '.join(sorted(names)) or '(none)'}", source.name)
    study = optuna.load_study(study_name=source.name, storage=storage)
    complete = [t for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])]
    if not complete:
        raise ConfigError(KEY, f"study {source.name!r} has no complete trial to start from", source.name)
    signs = [1.0 if d == optuna.study.StudyDirection.MAXIMIZE else -1.0 for d in study.directions]
    front = {t.number for t in study.best_trials} if len(signs) > 1 else set()
    ranked = sorted(complete, key=lambda t: (not feasible(t), t.number not in front, -signs[0] * t.values[0], t.number))
    searched = {name for t in complete for name in t.params}
    return [dict(t.params) for t in ranked[:count]], searched


def run_configurations(source: Source, count: int, tracking_uri: str, metric: str, mode: str, plan) -> tuple[list[dict], set[str]]:
    """The best ``count`` finished runs of an experiment, as Optuna params of this search's space."""
    from mlflow.tracking import MlflowClient

    from sweep.runtime.databases import sqlite_file

    given = f"{MLFLOW_PREFIX}{source.name}"
    path = sqlite_file(tracking_uri)
    if path is not None and not path.is_file():  # never create a store by looking for runs in it
        raise ConfigError(KEY, f"no MLflow store at {path}: no runs to start from", given)
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(source.name)
    if experiment is None:
        names = sorted(e.name for e in client.search_experiments(max_results=1000))
        raise ConfigError(KEY, f"no experiment {source.name!r} in the tracking store; experiments: {', '.join(names)}", given)
    runs = client.search_runs([experiment.experiment_id], "tags.state = 'finished'", max_results=5000)
    scored = [run for run in runs if f"best_{metric}" in run.data.metrics and "strategy" in run.data.tags]
    if not scored:
        raise ConfigError(KEY, f"experiment {source.name!r} has no finished run that logs best_{metric}", given)
    sign = 1.0 if mode == "max" else -1.0
    scored.sort(key=lambda run: (-sign * run.data.metrics[f"best_{metric}"], run.info.start_time))
    configurations = [params_of_run(run.data.params, plan) for run in scored[:count]]
    return [c for c in configurations if c], {name for c in configurations for name in c}


def params_of_run(params: dict[str, str], plan) -> dict:
    """A run's recorded config as this search's Optuna params (the values it would have sampled to run it)."""
    strategy = params.get("strategy.name")
    out = {}
    groups = {"strategy": strategy, "model": params.get("model.name"), "task": params.get("task.name")}
    for param in plan.choices:
        value = groups.get(param.key, params.get(param.key))
        choice = next((c for c in param.choices if str(c) == str(value)), None)
        if choice is not None:
            out[param.key] = choice
    own = plan.strategy_spaces.get(strategy or plan.default_strategy, {})
    for key, param in {**plan.base, **own}.items():
        if key not in params:
            continue
        name = f"{strategy}/{key}" if plan.searches_strategy and key in own else key
        value = typed_value(param, params[key])
        if value is not None:
            out[name] = value
    return out


def typed_value(param, text: str):
    if param.kind == "categorical":
        return next((c for c in param.choices if str(c) == text), None)
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(round(number)) if param.kind == "int" else number


def param_of(plan, name: str):
    """The search's Param an Optuna parameter name stands for (None: not searched here)."""
    strategy, _, key = name.rpartition("/")
    if strategy:
        return plan.strategy_spaces.get(strategy, {}).get(key)
    choices = {param.key: param for param in plan.choices}
    return choices.get(name) or plan.strategy_spaces.get(plan.default_strategy, {}).get(name) or plan.base.get(name)


def within(param, value) -> bool:
    """Whether this search could sample ``value``: a warm start never runs a value outside tonight's space (a range
    narrowed since, a choice removed), which Optuna would take as given."""
    from sweep.search.space import BLOCKS

    if param is None:
        return False
    if param.kind == "categorical":
        return value in param.choices
    if not isinstance(value, (int, float)):
        return False
    return param.low <= value and (param.high == BLOCKS or value <= param.high)


def in_space(plan, params: dict) -> dict:
    return {name: value for name, value in params.items() if within(param_of(plan, name), value)}


def plan_warm_start(plan, tracking_uri: str, output_dir: str) -> list[dict]:
    """The configurations to enqueue, checked before any study or run is touched (a ConfigError names the key)."""
    from sweep.search.storage import storage_url

    search = plan.search
    source = parse_source(search.warm_start, lambda name: storage_url(search.storage, name, output_dir))
    if source.kind == "mlflow":
        configurations, searched = run_configurations(source, search.warm_start_top, tracking_uri, plan.monitor, plan.mode, plan)
    else:
        if source.name == plan.study_name and source.storage_url == plan.storage_url:
            raise ConfigError(KEY, "is this very study: name an earlier one (a study resumes by itself)", search.warm_start)
        configurations, searched = study_configurations(source, search.warm_start_top)
    ours = names_searched(plan)
    if not plan.searches_strategy:  # a source that searched strategies names the default strategy's knobs <strategy>/<key>
        prefix = f"{plan.default_strategy}/"
        configurations = [{k.removeprefix(prefix): v for k, v in c.items()} for c in configurations]
        searched = {name.removeprefix(prefix) for name in searched}
    shared = searched & ours
    if not shared:
        raise ConfigError(
            KEY, f"{source.describe()} searched another space: {', '.join(sorted(searched)) or '(nothing)'}; "
            f"this search: {', '.join(sorted(ours))}", search.warm_start,
        )  # fmt: skip
    return [in_space(plan, {k: v for k, v in c.items() if k in shared}) for c in configurations]


def warm_start(study, configurations: list[dict], source_text: str) -> int:
    """Enqueue the configurations as the first trials of a study that has none; returns how many were enqueued."""
    if study.get_trials(deepcopy=False) or not configurations:
        return 0
    for params in configurations:
        study.enqueue_trial(params, skip_if_exists=True)
    study._storage.set_study_system_attr(study._study_id, STARTED_FROM, source_text)
    log.info("warm start: %d configuration(s) of %s enqueued as the first trials", len(configurations), source_text)
    return len(configurations)
