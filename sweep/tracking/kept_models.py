"""Which runs keep their trained model (``tracking.save_model``), and removing the ones a search outgrew.

- ``never``: no run saves; ``always``: every finished run does (also an evaluation-only one).
- ``auto`` (default): a single run and every grid job save what they trained (not an evaluation-only
  run: it trained nothing). In a search only the study's best keeps its model: a trial saves only if no
  complete trial already beats it, and after each trial is told, every model of the study that is no
  longer the best is removed (its files deleted through the run's artifact repository, the run tagged
  ``model.kept=false`` and ``model.removed=<why>``). A finished single-objective study holds exactly one
  model: the best trial's (on a tie in value, the earliest trial's). A multi-objective study keeps one per
  trial on its Pareto front: there is no single best, and a dominated trial never returns to the front.

Concurrency: workers (threads, processes, nodes) need no lock and no shared "best" record. "Not the
best" is monotone: a trial beaten (or dominated) by a complete trial stays beaten as the study grows.
So whoever removes a model does so from a snapshot in which its trial was already beaten, and removal
is idempotent; the last trial told sees every complete trial, so its worker leaves the study right. A
worker that died between telling and removing is made good by the next one (and at each sweeper's end).
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from pathlib import Path

log = logging.getLogger("sweep")
KEPT_TAG, REMOVED_TAG = "model.kept", "model.removed"


# --------------------------------------------------------------------------------- who is best
def _better(a: float, b: float, direction) -> bool:
    import optuna

    return a > b if direction == optuna.study.StudyDirection.MAXIMIZE else a < b


def _dominates(a: list[float], b: list[float], directions) -> bool:
    at_least = all(x == y or _better(x, y, d) for x, y, d in zip(a, b, directions))
    return at_least and any(_better(x, y, d) for x, y, d in zip(a, b, directions))


def beaten(values: list[float], number: int, by, directions) -> bool:
    """Whether the complete trial ``by`` beats (one objective: better, or as good and earlier) or
    dominates (several) a trial with ``values`` and ``number``. A strict order: monotone as trials add."""
    if len(directions) == 1:
        return _better(by.values[0], values[0], directions[0]) or (by.values[0] == values[0] and by.number < number)
    return _dominates(by.values, values, directions)


def kept_numbers(complete: list, directions) -> set[int]:
    """The trials whose models a study keeps: the best one, or the Pareto front."""
    return {t.number for t in complete if not any(beaten(t.values, t.number, other, directions) for other in complete if other is not t)}


# --------------------------------------------------------------------------------- a job saves
def should_save(job, binding, outcome) -> bool:
    """``tracking.save_model`` for a finished job (``outcome``: its JobOutcome)."""
    import optuna

    root = job.root
    mode = root.tracking.save_model
    if mode != "auto":
        return mode == "always"
    if not root.trainer.fit:
        return False
    if binding is None:
        return True
    from sweep.config.constraints import constraint_values, feasible
    from sweep.config.schema import search_config

    search = search_config(root.search)
    values = [outcome.objective(metric, root.trainer.monitor) for metric in search.metrics]
    if not all(v is not None and math.isfinite(v) for v in values):
        return False  # the sweeper fails such a trial
    study = binding.trial.study
    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    rivals = [other for other in complete if feasible(other)]  # under search.constraints: the feasible trials
    if not all(value <= 0 for value in constraint_values(search.constraints, outcome.metrics).values()):
        if rivals:  # an infeasible trial is never the best while a feasible one exists
            return False
        rivals = complete
    return not any(beaten(values, binding.number, other, study.directions) for other in rivals)


def save_model(run, built) -> None:
    """Write the job's trained model as the run's ``model`` artifact; tag and time it."""
    from sweep.data.pipelines import pipeline_for
    from sweep.tracking.saved_models import write_model

    root = built.job.root
    model = root.model
    base = {"name": model.name, "source": model.source, "tokenizer": model.tokenizer, "config_overrides": dict(model.config_overrides)}
    metadata = {
        "strategy": built.job.strategy.name,
        "base": base,
        "family": model.family,
        "label_names": list(built.label_names),
        "task": root.task.name,
        "task_type": root.task.type,
        "head": built.head,
        "fitted": dict(built.fitted),  # what the head's outputs mean beyond the labels (a regression target's scale)
        "seed": root.seed,
        # None: images (a dual encoder's: per tower)
        "vocab_size": pipeline_for(model.family).backbone_options(built.tokenizer).get("vocab_size") if built.head != "dual" else None,
        "run_id": run.run_id,
    }
    if built.head == "dual":  # two towers (sweep/tracking/saved_dual.py)
        from sweep.tracking.saved_dual import write_dual

        metadata = {key: value for key, value in metadata.items() if key not in ("base", "family", "vocab_size")}
        upload_model(run, lambda folder: write_dual(folder, built.model, built.processors, built.tower_configs, metadata))
        return
    upload_model(run, lambda folder: write_model(folder, built.model, built.tokenizer, metadata))


def upload_model(run, write) -> None:
    """``write(folder)`` a model, then upload it as the run's ``model`` artifact; tag and time it.
    Shared with sweep.pretrain, which keeps a backbone the same way."""
    from sweep.tracking.saved_models import ARTIFACT_PATH, METADATA_FILE

    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="sweep-model-"))
    try:
        folder = tmp / ARTIFACT_PATH
        write(folder)
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        # the metadata last: a model is complete once it is there and the run is tagged (see fetch), so an
        # upload cut short (a signal, a network error) never passes for a model
        metadata_file = (folder / METADATA_FILE).rename(tmp / METADATA_FILE)
        run.client.log_artifacts(run.run_id, str(folder), ARTIFACT_PATH)
        run.client.log_artifact(run.run_id, str(metadata_file), ARTIFACT_PATH)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    run.set_tags({KEPT_TAG: "true"})
    run.log_metrics({"model_save_s": time.perf_counter() - start, "model_size_mb": size / 2**20})


def try_save_model(run, built, tracking_uri: str) -> None:
    """``save_model``, where a failure of its own (a full disk, a store that refuses artifacts) costs the
    model only: the run trained and tested, so it still finishes; it says why it has no model."""
    from sweep.config.paths import disk_full

    try:
        save_model(run, built)
    except Exception as error:
        full = disk_full(error) is not None  # a full disk: its traceback says nothing more than its one line
        log.warning("run %s: its model could not be kept: %s", run.run_id, error, exc_info=not full)
        try:
            remove_model(run.client, tracking_uri, run.run_id, f"saving failed: {type(error).__name__}: {error}"[:500])
        except Exception as failure:  # the store itself is the trouble: no model tag, so nothing loads it
            full = full or disk_full(failure) is not None
            log.warning("run %s: a partly saved model could not be removed: %s", run.run_id, failure, exc_info=not full)


# --------------------------------------------------------------------------------- a search removes
def remove_model(client, tracking_uri: str, run_id: str, reason: str) -> None:
    """Delete a run's ``model`` artifact (idempotent) and say so on the run."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    from sweep.tracking.saved_models import ARTIFACT_PATH

    run = client.get_run(run_id)
    try:
        # the tags first: from then on no one loads it (sweep/tracking/saved_models.py fetch), whatever the files' state
        client.set_tag(run_id, KEPT_TAG, "false")
        client.set_tag(run_id, REMOVED_TAG, reason)
    finally:  # the files go even if the store refused the tags (a full disk: a half-written model would keep it full)
        try:
            get_artifact_repository(run.info.artifact_uri, tracking_uri=tracking_uri).delete_artifacts(ARTIFACT_PATH)
        except FileNotFoundError:  # another worker removed it between the check and the delete
            pass


def keep_best_models(study, client, tracking_uri: str, experiment_id: str, parent_run_id: str, study_id: str = "") -> int:
    """Remove the models of the study's finished trials that are not (or no longer) its best; returns how many.
    ``study_id``: the study's identity (sweep/search/study.py).

    Runs are found by their parent (the study's, bound to its identity) and their ``model.kept`` tag, and
    a run that names another study identity is never touched; a trial still running keeps its model until
    it is told.
    """
    import optuna

    from sweep.tracking.search_runs import STUDY_ID_TAG

    trials = study.get_trials(deepcopy=False)
    finished = {t.number for t in trials if t.state.is_finished()}
    from sweep.config.constraints import feasible

    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    keep = kept_numbers([t for t in complete if feasible(t)] or complete, study.directions)  # feasible trials first
    query = f"tags.`mlflow.parentRunId` = '{parent_run_id}' and tags.`{KEPT_TAG}` = 'true'"
    removed = 0
    for run in client.search_runs([experiment_id], filter_string=query, max_results=1000):
        number = int(run.data.tags.get("optuna.trial", -1))
        if run.data.tags.get(STUDY_ID_TAG, study_id) != study_id:  # another study of the same name
            continue
        if number in finished and number not in keep:
            reason = "not the best trial of its study" if len(study.directions) == 1 else "not on its study's Pareto front"
            remove_model(client, tracking_uri, run.info.run_id, f"{reason} {study.study_name}")
            log.info("trial %d: model removed (%s)", number, reason)
            removed += 1
    return removed
