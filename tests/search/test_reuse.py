"""search.reuse: a job whose configuration, data and code match a finished run is answered from it, not trained
(sweep/pipeline/fingerprint.py, sweep/tracking/reuse.py); the claim that keeps two workers off one key; the budget."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest

from tests.conftest import compose

TINY = ["model=tiny_bert", "task.train_size=48", "task.val_size=16", "task.test_size=16", "trainer.max_steps=2", "optim.batch_size=16"]
TINY += ["trainer.precision=32-true", "tracking.save_model=never"]


def splits_of(texts, labels):
    from sweep.data.labelled import Split, Splits

    split = Split(list(texts), np.asarray(labels))
    return Splits(split, split, split, ["neg", "pos"])


def test_the_data_digest_sees_one_changed_row_and_nothing_else():
    from sweep.pipeline.fingerprint import data_digest

    texts, labels = ["a good film", "a bad film", "fine"], [1, 0, 1]
    same = data_digest(splits_of(texts, labels))
    assert data_digest(splits_of(list(texts), list(labels))) == same
    assert data_digest(splits_of(texts, [1, 0, 0])) != same  # one label
    assert data_digest(splits_of(["a good film", "a bad film", "fine."], labels)) != same  # one character
    assert data_digest(splits_of(["a good film", "a bad filmfine", ""], labels)) != same  # rows are delimited


def test_the_configuration_digest_keeps_the_seed_and_ignores_where_it_is_recorded():
    from sweep.pipeline.fingerprint import configuration_digest

    config = {"seed": 0, "optim": {"lr": 0.001, "warmup_ratio": 0}, "paths": {"output_dir": "a"}, "trial": {"number": 3}}
    same = configuration_digest(config, "model")
    moved = {**config, "paths": {"output_dir": "b"}, "tracking": {"uri": "x"}, "search": {"reuse": True}, "trial": {"number": 9}}
    assert configuration_digest(moved, "model") == same
    assert configuration_digest({**config, "optim": {"lr": 1e-3, "warmup_ratio": 0.0}}, "model") == same  # numbers as numbers
    assert configuration_digest({**config, "seed": 1}, "model") != same
    assert configuration_digest({**config, "optim": {"lr": 0.002, "warmup_ratio": 0}}, "model") != same
    assert configuration_digest(config, "other weights") != same


@pytest.fixture
def reviews_csv(tmp_path, cache_dir):
    """80 real Rotten Tomatoes reviews as the user's own CSV file."""
    import pandas as pd

    from sweep.data.tasks import load_splits
    from sweep.pipeline.validate import validate

    task = validate(compose(f"paths.cache_dir={cache_dir}", "task.train_size=80", "task.val_size=8", "task.test_size=8")).root.task
    train = load_splits(task).train
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"text": train.inputs, "label": np.asarray(train.labels)}).to_csv(path, index=False)
    return path


def run(tmp_path, cache_dir, *overrides):
    from sweep.pipeline.job import JobContext, run_job

    paths = [f"paths.output_dir={tmp_path}", f"paths.cache_dir={cache_dir}", f"tracking.uri=sqlite:///{tmp_path}/mlflow.db"]
    return run_job(compose(*paths, *TINY, *overrides), JobContext(multirun=False, parent_run_id=None, job_number=None))


def test_a_finished_key_answers_without_training_and_other_rows_train_again(tmp_path, cache_dir, reviews_csv, monkeypatch):
    """The second job is answered from the first: same outcome, its metrics and per-example tables copied, tagged
    reused_from, nothing trained. The file then changes by one label, its size and modification time kept (what the
    data set's MLflow digest reads): other data, so it trains."""
    from mlflow.tracking import MlflowClient

    import sweep.pipeline.train as train_module

    data = ["task=csv", f"task.path={reviews_csv}", "task.holdout_fraction=0.2", "search.reuse=true"]
    first = run(tmp_path, cache_dir, *data)
    assert first.state == "finished" and first.reused_from is None

    trained = []
    real_train = train_module.train
    monkeypatch.setattr(train_module, "train", lambda *a, **k: trained.append(1) or real_train(*a, **k))
    second = run(tmp_path, cache_dir, *data)
    assert trained == [] and second.reused_from == first.run_id
    assert (second.value, second.metrics) == (first.value, first.metrics)
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    source, copy = client.get_run(first.run_id), client.get_run(second.run_id)
    assert copy.data.tags["reused_from"] == first.run_id and copy.data.tags["state"] == "finished"
    assert copy.data.metrics["test/acc"] == source.data.metrics["test/acc"]
    assert {a.path for a in client.list_artifacts(second.run_id, "predictions")} == {"predictions/val.npz", "predictions/test.npz"}

    text = reviews_csv.read_text()
    stat = reviews_csv.stat()
    flipped = text.replace(",1\n", ",0\n", 1) if ",1\n" in text else text.replace(",0\n", ",1\n", 1)
    reviews_csv.write_text(flipped)
    os.utime(reviews_csv, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert reviews_csv.stat().st_size == stat.st_size
    third = run(tmp_path, cache_dir, *data)
    assert trained == [1] and third.reused_from is None
    assert client.get_run(third.run_id).data.tags["reuse.key"] != source.data.tags["reuse.key"]

    fourth = run(tmp_path, cache_dir, *data, "seed=7")  # another seed is another job
    assert trained == [1, 1] and fourth.reused_from is None
    off = run(tmp_path, cache_dir, *data[:-1])  # reuse off (the default): trained, whatever the store holds
    assert trained == [1, 1, 1] and off.reused_from is None


@pytest.fixture
def store(tmp_path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    return client, client.create_experiment("sweep", artifact_location=(tmp_path / "artifacts").as_uri())


def open_run(client, experiment, key, owner=None):
    from sweep.tracking.job_run import OWNER_TAG
    from sweep.tracking.reuse import KEY_TAG

    tags = {KEY_TAG: key, "state": "running", **({OWNER_TAG: json.dumps(owner)} if owner else {})}
    return client.create_run(experiment, tags=tags).info.run_id


def finish_as_answer(client, run_id, value):
    from sweep.tracking.reuse import log_outcome

    log_outcome(client, run_id, value, {"val/acc": value})
    client.set_tag(run_id, "state", "finished")
    client.set_terminated(run_id, "FINISHED")


def test_a_job_waits_for_the_run_of_its_key_that_opened_first_then_answers_from_it(store):
    from sweep.runtime.owners import this_process
    from sweep.tracking.reuse import wait_for_answer

    client, experiment = store
    first = open_run(client, experiment, "k1", this_process())
    time.sleep(0.01)
    second = open_run(client, experiment, "k1", this_process())
    assert wait_for_answer(client, "k1", first, poll_s=0.05) is None  # first in line: it trains
    threading.Timer(0.5, finish_as_answer, (client, first, 0.75)).start()
    start = time.monotonic()
    source, record = wait_for_answer(client, "k1", second, poll_s=0.05)
    assert source.info.run_id == first and record["value"] == 0.75 and time.monotonic() - start >= 0.4


def test_a_job_does_not_wait_for_a_dead_claimant_nor_a_failed_run(store):
    from sweep.runtime.owners import this_process
    from sweep.tracking.reuse import wait_for_answer

    client, experiment = store
    dead = {**this_process(), "pid": 2**22 + 12345}  # no such process here
    open_run(client, experiment, "k2", dead)
    failed = open_run(client, experiment, "k2", this_process())
    client.set_tag(failed, "state", "failed")
    client.set_terminated(failed, "FAILED")
    time.sleep(0.01)
    own = open_run(client, experiment, "k2", this_process())
    start = time.monotonic()
    assert wait_for_answer(client, "k2", own, poll_s=5) is None and time.monotonic() - start < 2


def test_reused_trials_are_off_the_budget_up_to_n_trials_unless_they_count(tmp_path):
    """A sampler that proposes only seen points: each is answered from a run, free, but at most n_trials go free,
    so the search still ends; with search.reuse_counts=true each counts like a trained one."""
    from sweep.pipeline.outcome import JobOutcome
    from sweep.search.liveness import budget_used
    from sweep.search.plan import plan_search
    from sweep.search.storage import open_storage
    from sweep.search.study import open_study
    from sweep.search.worker import Worker

    def searched(folder, *extra):
        plan = plan_search(compose("search=optuna", f"paths.output_dir={folder}", "search.n_trials=3", "search.reuse=true", *extra), [])
        storage = open_storage(plan.storage_url)
        study = open_study(plan, storage)

        def launch(overrides, number):
            return JobOutcome("finished", value=0.5, reused_from="r0" if number >= 1 else None)

        Worker(plan, study, storage, launch, compose=None, close_run=lambda *a: None, beat=lambda: None).run(1)
        return study

    study = searched(tmp_path / "free")
    reused = [t for t in study.trials if t.user_attrs.get("reused_from") == "r0"]
    assert len(study.trials) == 6 and len(reused) == 5 and budget_used(study) == 3  # 1 trained + 3 free + 2 counted
    study = searched(tmp_path / "counted", "search.reuse_counts=true")
    assert len(study.trials) == 3 and budget_used(study) == 3


def test_a_search_that_proposes_a_seen_point_and_a_grid_of_seen_jobs_train_nothing_twice(tmp_path, cache_dir):
    """Through the CLI: a search over two points (the seed) proposes each again; those trials are answered from the
    first, off the budget. Then a grid of the same two jobs, in another sweep: both answered from the search's
    runs, nothing trained."""
    import optuna
    from mlflow.tracking import MlflowClient

    from tests.conftest import run_cli

    # the search validates 4 times an epoch for its pruner (conf/search/optuna.yaml): the grid must too, or its jobs differ
    fixed = ["optim.lr=0.001", "optim.warmup_ratio=0.0", "trainer.val_check_interval=0.25", "search.reuse=true", *TINY]
    space = ["search.space.seed=choice(0,1)", "search.space.optim.lr=choice(0.001)", "search.space.optim.warmup_ratio=choice(0.0)"]
    searched = run_cli("-m", "search=optuna", "search.sampler=random", "search.n_trials=3", *space, *fixed, cwd=tmp_path, cache=cache_dir)
    assert searched.returncode == 0, searched.stderr[-3000:]
    database = next((tmp_path / "outputs" / "optuna").glob("*.db"))  # its name is derived from the command
    study = optuna.load_study(study_name=None, storage=f"sqlite:///{database}")
    trained = [t for t in study.trials if "reused_from" not in t.user_attrs]
    reused = [t for t in study.trials if "reused_from" in t.user_attrs]
    assert len(trained) == 2 and {t.params["seed"] for t in trained} == {0, 1} and len(reused) >= 1
    by_run = {t.user_attrs["mlflow_run_id"]: t for t in trained}
    for trial in reused:  # the same seed's value, from that seed's run
        assert trial.value == by_run[trial.user_attrs["reused_from"]].value
        assert trial.params["seed"] == by_run[trial.user_attrs["reused_from"]].params["seed"]

    grid = run_cli("-m", "seed=0,1", *fixed, cwd=tmp_path, cache=cache_dir)
    assert grid.returncode == 0, grid.stderr[-3000:]
    assert "reused from" in grid.stdout
    client = MlflowClient(f"sqlite:///{tmp_path}/outputs/mlflow.db")
    parent = next(r for r in client.search_runs(["0", "1"], "tags.`sweep.kind` = 'grid'"))
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 2 and {c.data.tags.get("reused_from") for c in children} == set(by_run)
