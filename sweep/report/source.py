"""Where a report's runs come from: the MLflow store (never created here), and in it an experiment, one
sweep's parent run, or one Optuna study. Every miss is a ConfigError naming its key and what exists."""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field

from sweep.config.errors import ConfigError
from sweep.config.schema import SEARCH_CONSTRAINTS, SEARCH_CONSTRAINTS_TAG
from sweep.config.secrets import mask_secrets
from sweep.report.collect import RunRecord, job_records

MAX_RUNS = 50000


@dataclass
class Source:
    client: object
    uri: str
    experiment_id: str
    experiment: str
    parent_run_id: str | None  # where the report is logged; None: on a new run of its own
    subject: str  # what the report is about: the parent run's name, the study, or the experiment
    scope_key: str  # the key that chose these runs (named when they hold nothing to compare) ...
    scope_value: str  # ... and its value
    records: list[RunRecord]
    search_limits: dict[str, float] = field(default_factory=dict)  # search.constraints its parent run recorded (by name)
    limits_from: str = ""  # that parent run, in words


def recorded_limits(run) -> dict[str, float]:
    """A search parent's ``search.constraints`` tag (sweep/search/constraints.py); a value that is not a valid limit is
    skipped (the search checked them; a tag edited by hand must not stop a report)."""
    try:
        given = json.loads(run.data.tags.get(SEARCH_CONSTRAINTS_TAG) or "{}")
    except ValueError:
        return {}
    limits = {}
    for name, value in given.items() if isinstance(given, dict) else ():
        if name in SEARCH_CONSTRAINTS and isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
            if name != "trainable_share" or value <= 1:
                limits[name] = float(value)
    return limits


def open_store(uri: str):
    """A client on an existing store: a missing sqlite file is not created, a server must answer."""
    from sweep.runtime.databases import sqlite_file
    from sweep.tracking.store import check_reachable

    path = sqlite_file(uri)
    if path is not None:
        if not path.is_file():
            raise ConfigError("tracking.uri", "no MLflow store there: run a sweep first (python -m sweep.run -m ...)", mask_secrets(uri))
    else:
        check_reachable(uri)
    # MLflow's own chatter only (sweep.runtime.console.quiet_libraries would import transformers: 1.4 s for nothing here)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def experiment_named(client, uri: str, name: str):
    found = client.get_experiment_by_name(name)
    if found is None:
        names = sorted(e.name for e in client.search_experiments(max_results=1000))
        raise ConfigError(
            "tracking.experiment", f"no such experiment in {mask_secrets(uri)}; experiments: {', '.join(names) or '(none)'}", name
        )
    return found


def open_source(uri: str, experiment: str, parent: str | None, study: str | None) -> Source:
    client = open_store(uri)
    if parent is not None:
        return of_parent(client, uri, parent)
    found = experiment_named(client, uri, experiment)
    if study is not None:
        return of_study(client, uri, found, study)
    runs = client.search_runs([found.experiment_id], max_results=MAX_RUNS)
    return Source(client, uri, found.experiment_id, found.name, None, found.name, "tracking.experiment", found.name, job_records(runs))


def of_parent(client, uri: str, parent: str) -> Source:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(parent)
    except MlflowException:
        raise ConfigError(
            "report.parent", f"no such run in {mask_secrets(uri)} (the parent run id a grid or search printed)", parent
        ) from None
    experiment = client.get_experiment(run.info.experiment_id)
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent}'", max_results=MAX_RUNS)
    subject = run.info.run_name or parent
    return Source(
        client, uri, experiment.experiment_id, experiment.name, parent, subject, "report.parent", parent, job_records(children),
        recorded_limits(run), f"parent run {parent}",
    )  # fmt: skip


def of_study(client, uri: str, experiment, study: str) -> Source:
    if "'" in study:
        raise ConfigError("report.study", "a study name has no quotes", study)
    ids = [experiment.experiment_id]
    parents = client.search_runs(ids, f"tags.`optuna.study` = '{study}' and tags.`sweep.kind` = 'optuna'", max_results=MAX_RUNS)
    trials = client.search_runs(ids, f"tags.`optuna.study` = '{study}'", max_results=MAX_RUNS)
    if not parents and not trials:
        searches = client.search_runs(ids, "tags.`sweep.kind` = 'optuna'", max_results=MAX_RUNS)
        names = sorted({run.data.tags.get("optuna.study", "") for run in searches} - {""})
        raise ConfigError(
            "report.study", f"no study of that name in experiment {experiment.name}; studies: {', '.join(names) or '(none)'}", study
        )
    parents.sort(key=lambda r: (r.info.start_time, r.info.run_id))  # workers agree on the oldest (search_runs.study_parent)
    from sweep.tracking.search_runs import STUDY_ID_TAG

    if parents:  # a name made again (its database deleted) is another study: report the latest one
        latest = parents[-1].data.tags.get(STUDY_ID_TAG, "")
        parents = [run for run in parents if run.data.tags.get(STUDY_ID_TAG, "") == latest]
        trials = [run for run in trials if run.data.tags.get(STUDY_ID_TAG, latest) == latest]
    parent = parents[0].info.run_id if parents else None
    limits = recorded_limits(parents[0]) if parents else {}
    return Source(
        client, uri, experiment.experiment_id, experiment.name, parent, study, "report.study", study, job_records(trials),
        limits, f"the study's parent run {parent}",
    )  # fmt: skip
