"""Only a search's best trial keeps its model: who is best, and removing the others from a real MLflow store."""

import optuna
import pytest

from sweep.tracking.kept_models import KEPT_TAG, REMOVED_TAG, beaten, keep_best_models, kept_numbers

MAX, MIN = optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE


def frozen(number: int, *values: float):
    trial = optuna.trial.create_trial(values=list(values))
    trial.number = number
    return trial


def test_one_objective_keeps_the_best_and_the_earliest_of_a_tie():
    trials = [frozen(0, 0.5), frozen(1, 0.7), frozen(2, 0.7), frozen(3, 0.6)]
    assert kept_numbers(trials, [MAX]) == {1}
    assert kept_numbers(trials, [MIN]) == {0}
    assert beaten([0.7], 2, trials[1], [MAX]) and not beaten([0.7], 1, trials[2], [MAX])


def test_several_objectives_keep_the_pareto_front():
    # (params, acc): 0 dominates 3; 1 and 2 trade off; 4 equals 1 (neither dominates: both stay)
    trials = [frozen(0, 10, 0.8), frozen(1, 100, 0.9), frozen(2, 5, 0.6), frozen(3, 20, 0.7), frozen(4, 100, 0.9)]
    assert kept_numbers(trials, [MIN, MAX]) == {0, 1, 2, 4}


@pytest.mark.parametrize("shuffle", [False, True])
def test_not_best_is_monotone_so_removing_needs_no_lock(shuffle):
    """Any trial removed from a snapshot is also not kept in every later, larger snapshot."""
    import random

    rng = random.Random(0)
    trials = [frozen(i, rng.choice([0.1, 0.2, 0.3]), rng.random()) for i in range(30)]
    order = rng.sample(trials, len(trials)) if shuffle else trials  # the order in which they complete
    for directions in ([MAX], [MIN, MAX]):
        values = (lambda t: t) if len(directions) == 2 else (lambda t: frozen(t.number, t.values[0]))
        seen, removed = [], set()
        for trial in order:
            seen.append(values(trial))
            kept = kept_numbers(seen, directions)
            assert not (removed & kept)
            removed |= {t.number for t in seen} - kept


def test_keep_best_models_removes_the_others_files_and_tags_them(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("sweep", artifact_location=(tmp_path / "artifacts").as_uri())
    parent = client.create_run(experiment).info.run_id
    study = optuna.create_study(direction="maximize")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "sweep_model.json").write_text("{}")
    runs = {}
    for number, value in enumerate([0.5, 0.8, None, 0.6]):  # trial 2 still running
        trial = study.ask()
        run = client.create_run(experiment, tags={"mlflow.parentRunId": parent, "optuna.trial": str(number), KEPT_TAG: "true"})
        client.log_artifacts(run.info.run_id, str(tmp_path / "model"), "model")
        runs[number] = run.info.run_id
        if value is not None:
            study.tell(trial, value)
    assert keep_best_models(study, client, uri, experiment, parent) == 2
    assert keep_best_models(study, client, uri, experiment, parent) == 0  # idempotent
    for number, run_id in runs.items():
        files = [a.path for a in client.list_artifacts(run_id, "model")]
        tags = client.get_run(run_id).data.tags
        if number in (1, 2):  # the best, and one not yet told
            assert files == ["model/sweep_model.json"] and tags[KEPT_TAG] == "true"
        else:
            assert files == [] and tags[KEPT_TAG] == "false" and "not the best trial" in tags[REMOVED_TAG]
