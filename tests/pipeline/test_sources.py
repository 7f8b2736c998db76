"""Resolving a job's sources looks things up and loads nothing (sweep/pipeline/sources.py)."""

from __future__ import annotations

import pytest

from tests.conftest import TINY_DATA


def kept_run(client, experiment_id: str, model: str, value: float) -> str:
    """A finished run of ``model`` on rotten_tomatoes that says it kept its model (there are no files: loading it would fail)."""
    run = client.create_run(experiment_id, tags={"model": model, "task": "rotten_tomatoes", "state": "finished", "model.kept": "true"})
    client.log_metric(run.info.run_id, "best_val/acc", value)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_a_model_name_teacher_becomes_its_best_kept_run_without_loading_it(job_config, tmp_path):
    from mlflow.tracking import MlflowClient

    from sweep.pipeline.sources import resolve_sources

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("sweep")
    kept_run(client, experiment_id, "tiny_bert", 0.6)
    best = kept_run(client, experiment_id, "tiny_bert", 0.8)
    kept_run(client, experiment_id, "minilm_l6", 0.9)  # another model

    job = job_config("model=tiny_bert", *TINY_DATA, "strategy=distill", "distill.teacher=tiny_bert")
    sources = resolve_sources(job, uri)
    assert sources.teacher == sources.teacher_run == f"runs:/{best}/model"
    assert sources.teacher_name == "tiny_bert" and sources.kept_teacher
    assert sources.tracking_uri == uri and sources.model == job.root.model.source and not sources.kept_model


def test_a_model_name_without_a_kept_run_is_refused(job_config, tmp_path):
    from sweep.config.errors import ConfigError
    from sweep.pipeline.sources import resolve_sources

    job = job_config("model=tiny_bert", *TINY_DATA, "strategy=distill", "distill.teacher=minilm_l6")
    with pytest.raises(ConfigError) as refusal:
        resolve_sources(job, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert refusal.value.key == "distill.teacher"
    assert "no finished run of model minilm_l6 on task rotten_tomatoes kept its model" in str(refusal.value)


def test_a_run_uri_or_a_folder_teacher_stays_as_written(job_config, tmp_path):
    from sweep.pipeline.sources import resolve_sources

    uri = f"sqlite:///{tmp_path / 'nothing-asked.db'}"
    for teacher, kept in (("runs:/0123abcd/model", True), (str(tmp_path / "teacher"), False)):
        sources = resolve_sources(job_config("model=tiny_bert", *TINY_DATA, "strategy=distill", f"distill.teacher={teacher}"), uri)
        assert (sources.teacher, sources.kept_teacher, sources.teacher_run, sources.teacher_name) == (teacher, kept, None, None)
    alone = resolve_sources(job_config("model=tiny_bert", *TINY_DATA, "strategy=full"), uri)
    assert alone.teacher is None and alone.teacher_run is None
    assert not (tmp_path / "nothing-asked.db").exists()  # no store was opened


def test_a_sweep_resolves_a_teacher_name_once_as_of_its_start_and_pins_it(job_config, tmp_path):
    """A model kept during the sweep never teaches the sweep's later jobs; the pin on the parent wins."""
    import time

    from mlflow.tracking import MlflowClient

    from sweep.config.errors import ConfigError
    from sweep.pipeline.sources import pin_key, resolve_sources

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("sweep")
    earliest = client.create_run(experiment_id, tags={"sweep.kind": "grid"}).info.run_id  # a sweep started before any kept run
    time.sleep(0.01)
    before = kept_run(client, experiment_id, "tiny_bert", 0.6)
    time.sleep(0.01)
    parent = client.create_run(experiment_id, tags={"sweep.kind": "grid"}).info.run_id
    time.sleep(0.01)
    during = kept_run(client, experiment_id, "tiny_bert", 0.9)  # a job of this sweep kept a better model

    job = job_config("model=tiny_bert", *TINY_DATA, "strategy=distill", "distill.teacher=tiny_bert")
    assert resolve_sources(job, uri).teacher == f"runs:/{during}/model"  # a single run: the best there is now
    sources = resolve_sources(job, uri, sweep_parent=parent)
    assert sources.teacher == sources.teacher_run == f"runs:/{before}/model"
    pin = pin_key("tiny_bert", "rotten_tomatoes", "val/acc", "max")
    assert client.get_run(parent).data.tags[pin] == f"runs:/{before}/model"
    client.set_tag(parent, pin, "runs:/pinned/model")
    assert resolve_sources(job, uri, sweep_parent=parent).teacher == "runs:/pinned/model"  # read, not looked up again
    with pytest.raises(ConfigError, match="kept its model and watched val/acc before this sweep started"):
        resolve_sources(job, uri, sweep_parent=earliest)
