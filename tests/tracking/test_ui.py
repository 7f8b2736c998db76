"""What the MLflow UI reads from our store, checked on a real local sqlite store: the experiment's kind,
the saved runs view, the parent run's description, each job's data set."""

import json

import pytest

from sweep.tracking.store import client_and_experiment
from sweep.tracking.ui import KIND_TAG, NOTE_TAG, TRAINING, VIEW_TAG, note, save_runs_view
from tests.conftest import compose


@pytest.fixture
def store(tmp_path):
    """A fresh sqlite store, as a sweep makes it: (uri, output folder)."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path)


def test_our_experiments_are_marked_as_model_training(store):
    uri, out = store
    client, made = client_and_experiment(uri, "sweep", out)
    assert client.get_experiment(made).tags[KIND_TAG] == TRAINING == "custom_model_development"

    older = client.create_experiment("older")  # made before we marked ours: marked when next used
    assert KIND_TAG not in client.get_experiment(older).tags
    assert client_and_experiment(uri, "older", out)[1] == older
    assert client.get_experiment(older).tags[KIND_TAG] == TRAINING

    chosen = client.create_experiment("chosen", tags={KIND_TAG: "genai_development"})  # a user's choice stays
    client_and_experiment(uri, "chosen", out)
    assert client.get_experiment(chosen).tags[KIND_TAG] == "genai_development"


def saved_view(client, experiment_id: str) -> tuple[dict, dict]:
    """The view as the UI reads it: an envelope with a string name, a number createdAt, a string state."""
    envelope = json.loads(client.get_experiment(experiment_id).tags[VIEW_TAG + "sweep"])
    assert isinstance(envelope["name"], str) and isinstance(envelope["createdAt"], int) and isinstance(envelope["state"], str)
    return envelope, json.loads(envelope["state"])


def test_the_saved_view_lists_children_best_first_with_our_columns(store):
    uri, out = store
    client, experiment = client_and_experiment(uri, "sweep", out)
    save_runs_view(client, experiment, "val/acc", "max")
    envelope, state = saved_view(client, experiment)
    assert state["orderByKey"] == "metrics.`best_val/acc`" and state["orderByAsc"] is False  # not start time: children as rows
    first = ["attributes.`Run Name`", "tags.`strategy`", "tags.`model`", "tags.`state`", "metrics.`best_val/acc`"]
    assert state["columnOrder"][:5] == first
    assert {"metrics.`val/acc`", "metrics.`test/acc`", "attributes.`Dataset`"} <= set(state["selectedColumns"])

    save_runs_view(client, experiment, "val/acc", "max")  # the same view: left as it is
    assert saved_view(client, experiment)[0] == envelope

    save_runs_view(client, experiment, "val/loss", "min", ["val/loss", "params_trainable"])  # a search
    envelope, state = saved_view(client, experiment)
    assert envelope["name"] == "sweep: best val/loss first"
    assert state["orderByKey"] == "metrics.`best_val/loss`" and state["orderByAsc"] is True
    assert {"tags.`optuna.trial`", "metrics.`params_trainable`", "metrics.`test/loss`"} <= set(state["selectedColumns"])


def test_the_comparison_table_is_the_parent_runs_description(store, capsys):
    from sweep.tracking.comparison import print_comparison

    uri, out = store
    client, experiment = client_and_experiment(uri, "sweep", out)
    parent = client.create_run(experiment, run_name="sweep-1").info.run_id
    for name, strategy, acc in (("tiny-full-0", "full", 0.6), ("tiny-lora-1", "lora", 0.8)):
        child = client.create_run(experiment, run_name=name, tags={"mlflow.parentRunId": parent, "strategy": strategy, "state": "finished"})
        client.log_metric(child.info.run_id, "best_val/acc", acc)
    print_comparison(client, experiment, parent, uri, "val/acc", "max", lost=1)

    described = client.get_run(parent).data.tags[NOTE_TAG]
    assert described.splitlines()[0].startswith("| run ") and "best val/acc" in described
    assert described.index("tiny-lora-1") < described.index("tiny-full-0")  # best first, as printed
    assert described.endswith("1 job(s) left no run at all (their process died before recording anything)")
    logged = client.download_artifacts(parent, "comparison.md", out)
    assert open(logged).read() == described + "\n"
    printed = capsys.readouterr().out
    assert f"/#/experiments/{experiment}/runs?workflowType=machine_learning&viewStateShareKey=sweep" in printed


def test_a_long_table_keeps_whole_rows_within_mlflows_limit():
    header = "| run | acc |\n|:----|:----|"
    rows = [f"| run-{i:04d} | 0.{i:04d} |" for i in range(1000)]
    table = "\n".join([header, *rows])
    short = note(table)
    assert len(short) <= 8000 - 200 and short.startswith(header)
    kept = [line for line in short.splitlines()[2:] if line.startswith("|")]
    assert kept == rows[: len(kept)] and len(kept) > 100
    assert short.endswith(f"(the first {len(kept)} of 1000 rows; all of them in comparison.md)")
    assert note("\n".join([header, *rows[:3]])) == "\n".join([header, *rows[:3]])  # a short one as it is


def task_config(*overrides: str):
    from sweep.pipeline.validate import validate

    return validate(compose(*overrides)).root.task


def test_each_job_logs_its_data_set_as_a_training_input(store, tmp_path):
    from sweep.tracking.job_run import JobRun

    uri, out = store
    client, experiment = client_and_experiment(uri, "sweep", out)
    sizes = {"train": 64, "val": 32, "test": 32}
    runs = []
    for model in ("tiny_bert", "minilm_l3"):
        run = JobRun.create(client, experiment, model, {})
        run.log_data(task_config(f"model={model}"), sizes)
        runs.append(client.get_run(run.run_id))
    inputs = [run.inputs.dataset_inputs for run in runs]
    assert [len(found) for found in inputs] == [1, 1]
    first, second = inputs[0][0], inputs[1][0]
    assert first.dataset.name == "rotten_tomatoes" and {(t.key, t.value) for t in first.tags} == {("mlflow.data.context", "training")}
    assert first.dataset.digest == second.dataset.digest  # the same data whatever the model
    assert json.loads(first.dataset.profile) == {"num_rows": 128, "train_rows": 64, "val_rows": 32, "test_rows": 32}

    from sweep.tracking.datasets import digest

    task = task_config()
    assert digest(task, sizes) == digest(task_config("task.max_length=128"), sizes)  # tokenisation, not data
    assert digest(task, sizes) != digest(task, {**sizes, "train": 65})
    assert digest(task, sizes) != digest(task_config("task.split_seed=1"), sizes)

    data = tmp_path / "mine.csv"
    data.write_text("text,label\na,x\nb,y\n")
    mine = task_config("task=csv", f"task.path={data}")
    run = JobRun.create(client, experiment, "csv", {})
    run.log_data(mine, sizes)
    logged = client.get_run(run.run_id).inputs.dataset_inputs[0].dataset
    assert logged.source_type == "local" and json.loads(logged.source) == {"uri": str(data.resolve())}
    before = digest(mine, sizes)
    data.write_text("text,label\na,x\nb,y\nc,x\n")  # the file changed: so does its digest
    assert digest(mine, sizes) != before
