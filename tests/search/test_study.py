"""A study names its objectives (optuna-dashboard and Optuna's plots show them, not "Objective 0")."""

import warnings

from tests.search.test_plan import plan


def test_the_study_names_its_objectives_new_resumed_and_older(tmp_path):
    import optuna

    from sweep.search.storage import open_storage
    from sweep.search.study import open_study

    p = plan(f"paths.output_dir={tmp_path}", "search.metrics=[val/acc,params_trainable]", "search.directions=[maximize,minimize]")
    storage = open_storage(p.storage_url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = open_study(p, storage)
        assert open_study(p, storage).metric_names == ["val/acc", "params_trainable"]  # resumed: kept
    assert study.metric_names == ["val/acc", "params_trainable"]
    assert not [w for w in caught if "set_metric_names" in str(w.message)]  # Optuna marks it experimental

    older = plan(f"paths.output_dir={tmp_path / 'older'}")  # a study made before we named objectives
    (tmp_path / "older" / "optuna").mkdir(parents=True)
    storage = open_storage(older.storage_url)
    optuna.create_study(storage=storage, study_name=older.study_name, directions=["maximize"])
    assert optuna.load_study(study_name=older.study_name, storage=storage).metric_names is None
    assert open_study(older, storage).metric_names == ["val/acc"]
