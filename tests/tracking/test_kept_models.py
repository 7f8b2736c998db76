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


def test_a_study_made_again_under_its_name_never_touches_the_old_studys_models(tmp_path):
    """Regression: parents were found by study name and storage, and kept models removed by trial number
    under that parent: delete the study's database, run the same command, and the new study's trial 0
    (beaten) removed the old search's best model, trial 0. Now the new study has its own identity and so
    its own parent, and a run of another identity is never touched, even under a shared (older) parent."""
    from mlflow.tracking import MlflowClient

    from sweep.search.storage import open_storage
    from sweep.search.study import IDENTITY, open_study
    from sweep.tracking.search_runs import STUDY_ID_TAG, study_parent
    from tests.search.test_plan import plan

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("sweep", artifact_location=(tmp_path / "artifacts").as_uri())
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "sweep_model.json").write_text("{}")
    p = plan(f"paths.output_dir={tmp_path}", "search.study_name=same-name")

    def search(values: list[float]):
        study = open_study(p, open_storage(p.storage_url))
        identity = study.user_attrs[IDENTITY]
        parent = study_parent(client, experiment, p.study_name, "storage", identity, "search", {})
        runs = []
        for number, value in enumerate(values):
            trial = study.ask()
            tags = {"mlflow.parentRunId": parent, "optuna.trial": str(number), KEPT_TAG: "true", STUDY_ID_TAG: identity}
            run = client.create_run(experiment, tags=tags)
            client.log_artifacts(run.info.run_id, str(tmp_path / "model"), "model")
            runs.append(run.info.run_id)
            study.tell(trial, value)
        keep_best_models(study, client, uri, experiment, parent, identity)
        return study, identity, parent, runs

    _, first_id, first_parent, (old_best,) = search([0.8])
    (tmp_path / "optuna" / "same-name.db").unlink()  # the user deletes the study, and runs the same command
    again, second_id, second_parent, (beaten_run, new_best) = search([0.5, 0.9])
    assert second_id != first_id and second_parent != first_parent
    assert client.get_run(old_best).data.tags[KEPT_TAG] == "true"
    assert [a.path for a in client.list_artifacts(old_best, "model")] == ["model/sweep_model.json"]
    assert client.get_run(beaten_run).data.tags[KEPT_TAG] == "false" and client.get_run(new_best).data.tags[KEPT_TAG] == "true"
    # a parent from before identities holds both studies' runs: the other identity's are left alone
    client.set_tag(old_best, "mlflow.parentRunId", second_parent)
    assert keep_best_models(again, client, uri, experiment, second_parent, second_id) == 0
    assert client.get_run(old_best).data.tags[KEPT_TAG] == "true"


def test_a_store_that_refuses_the_tags_still_gets_the_models_files_removed(tmp_path):
    """Regression (a disk that fills during a run): removing a half-saved model wrote its tags first, and a
    store on the full disk refused them, so the files that filled the disk stayed."""
    from mlflow.tracking import MlflowClient

    from sweep.tracking.kept_models import remove_model

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("sweep", artifact_location=(tmp_path / "artifacts").as_uri())
    run = client.create_run(experiment).info.run_id
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.safetensors").write_bytes(b"0" * 1024)
    client.log_artifacts(run, str(tmp_path / "model"), "model")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    client.set_tag = full
    with pytest.raises(OSError, match="No space left on device"):
        remove_model(client, uri, run, "saving failed")
    assert client.list_artifacts(run, "model") == []
