"""End to end through the real CLI, in subprocesses, against the real MLflow sqlite store."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONF, TINY_DATA, run_cli

pytestmark = pytest.mark.slow


def client_for(cwd: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{cwd / 'outputs' / 'mlflow.db'}")


def all_runs(cwd: Path):
    client = client_for(cwd)
    experiment = client.get_experiment_by_name("sweep")
    return client, (client.search_runs([experiment.experiment_id]) if experiment else [])


def assert_nothing_recorded(cwd: Path) -> None:
    if (cwd / "outputs" / "mlflow.db").exists():
        assert all_runs(cwd)[1] == []


def test_grid_makes_one_parent_with_a_child_per_job(tmp_path, cache_dir):
    result = run_cli("-m", "strategy=full,prompt", "model=minilm_l3", *TINY_DATA, "trainer.max_epochs=2", cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    client, runs = all_runs(tmp_path)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.tags["state"] == "finished"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert sorted(c.data.tags["strategy"] for c in children) == ["full", "prompt"]
    for child in children:
        tags, params, metrics = child.data.tags, child.data.params, child.data.metrics
        assert child.info.status == "FINISHED" and tags["state"] == "finished"
        assert tags["model"] == "minilm_l3" and tags["task"] == "rotten_tomatoes"
        assert params["model.name"] == "minilm_l3" and params["task.train_size"] == "64"
        assert params["optim.lr"] == ("0.03" if tags["strategy"] == "prompt" else "5e-05")
        assert {
            "val/acc",
            "val/f1",
            "test/acc",
            "test/f1",
            "train/loss_epoch",
            "params_trainable",
            "params_total",
            "train_time_s",
            "peak_memory_mb",
        } <= set(metrics)
        assert len(client.get_metric_history(child.info.run_id, "val/acc")) == 2  # one per epoch
        assert "config.yaml" in [a.path for a in client.list_artifacts(child.info.run_id)]
    shares = {c.data.tags["strategy"]: c.data.metrics["params_trainable_share"] for c in children}
    assert shares["full"] == 1.0 and shares["prompt"] < 0.001
    assert {"comparison.md", "comparison.csv"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert "| minilm_l3-prompt-1" in result.stdout and "mlflow ui --backend-store-uri sqlite:///" in result.stdout


def test_single_run_on_a_user_csv(tmp_path, cache_dir):
    rows = ["text,score"] + [f'"review {i} {"great fun" if i % 2 else "awful bore"}",{"pos" if i % 2 else "neg"}' for i in range(120)]
    (tmp_path / "mine.csv").write_text("\n".join(rows))
    result = run_cli("model=tiny_bert", "task=csv", "task.path=mine.csv", "task.label_column=score", cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = all_runs(tmp_path)
    assert len(runs) == 1 and "mlflow.parentRunId" not in runs[0].data.tags
    run = runs[0]
    assert run.info.status == "FINISHED" and run.data.tags["task"] == "csv"
    assert run.data.metrics["data_val_rows"] == 12 and run.data.metrics["data_train_rows"] == 96
    assert "mlflow ui --backend-store-uri" in result.stdout
    # the cost estimate, logged before training (sweep/pipeline/cost.py), and how it compared
    assert run.data.metrics["estimate.optimizer_steps"] == run.data.metrics["optimizer_steps"] == 3
    assert run.data.metrics["estimate.measured_over_estimated"] > 0 and "][sweep][INFO] estimate: 3 steps over" in result.stdout


def test_a_failing_job_is_recorded_and_the_grid_goes_on(tmp_path, cache_dir):
    # tiny_bert has 2 blocks: freeze_depth=5 is bad for that job only
    result = run_cli("-m", "model=tiny_bert", "strategy=partial", "strategy.freeze_depth=1,5", *TINY_DATA, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 1
    _, runs = all_runs(tmp_path)
    children = {r.data.params.get("strategy.freeze_depth"): r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert children["1"].info.status == "FINISHED"
    assert children["5"].info.status == "FAILED"
    assert "strategy.freeze_depth=5: the model has 2 blocks: allowed 0..2" in children["5"].data.tags["error"]
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.info.status == "FINISHED" and parent.data.tags["jobs_failed"] == "1"
    assert "1 of 2 jobs failed" in result.stderr


def test_every_grid_job_ends_as_a_run_even_when_it_fails_before_its_run_opens(tmp_path, cache_dir):
    """Regression: a job of a grid that failed before opening its run (its own bad value, a PEFT error)
    left no run, so the table missed its row and the grid exited 0."""
    result = run_cli(
        "-m", "model=tiny_bert", "strategy=lora", "optim.lr=1e-3,-1", "strategy.target_modules=[query],[nope]", *TINY_DATA,
        cwd=tmp_path, cache=cache_dir,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    _, runs = all_runs(tmp_path)
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 4 and all(r.info.status != "RUNNING" for r in runs)
    errors = sorted(r.data.tags.get("error", "") for r in children if r.info.status == "FAILED")
    assert len(errors) == 3
    assert sum("optim.lr=-1.0: must be > 0" in e for e in errors) == 2  # a per-job value the schema rejects
    assert sum("strategy.target_modules=['nope']: Target modules {'nope'} not found" in e for e in errors) == 1
    assert parent.data.tags["jobs"] == "4" and parent.data.tags["jobs_failed"] == "3"
    assert result.stdout.count("| tiny_bert-lora-") == 4  # every job has its row
    assert "3 of 4 jobs failed" in result.stderr


def test_augmented_run_finishes_and_records_its_augment_config(tmp_path, cache_dir):
    result = run_cli(
        "model=tiny_bert", "augment=tokens", "augment.p_mask=0.2", *TINY_DATA, "trainer.max_epochs=2", cwd=tmp_path, cache=cache_dir
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _, runs = all_runs(tmp_path)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    params = runs[0].data.params
    assert params["augment.name"] == "tokens" and params["augment.p_mask"] == "0.2" and params["augment.p_insert"] == "0.1"
    assert {"test/acc", "val/acc"} <= set(runs[0].data.metrics)


def choices(group: str) -> list[str]:
    """A config group's options as the CLI lists them: every file in conf/<group>/."""
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


BAD_INPUT = [
    (
        ["model=nope"],
        f"error: model=nope: unknown; choose from {', '.join(choices('model'))}\n",
    ),
    (["task=nope"], f"error: task=nope: unknown; choose from {', '.join(choices('task'))}\n"),
    (["strategy=nope"], f"error: strategy=nope: unknown; choose from {', '.join(choices('strategy'))}\n"),
    (["-m", "strategy=full,nope"], f"error: strategy=nope: unknown; choose from {', '.join(choices('strategy'))}\n"),
    (["-m", "search=optuna", "search.space.model=choice(minilm_l3,nope)"], "error: search.space.model=nope: unknown; choose from"),
    (["model.nokey=1"], "error: Could not override 'model.nokey'."),
    (["task=csv", "task.path=empty.csv"], "error: task.path=empty.csv: the file is empty\n"),
    (["task=csv", "task.path=header.csv"], "error: task.path=header.csv: the file has no rows\n"),
    (["strategy=lora", "strategy.target_modules=[nope]"], "error: strategy.target_modules=['nope']: Target modules {'nope'} not found"),
    (["model=minilm_l3", "strategy=partial", "strategy.freeze_depth=9"], "strategy.freeze_depth=9: the model has 3 blocks: allowed 0..3"),
    (["task.train_size=-5"], "task.train_size=-5: must be >= 0"),
    (["optim.lr=0"], "optim.lr=0.0: must be > 0"),
    (["augment=tokens", "augment.p_swap=1.5"], "error: augment.p_swap=1.5: must be in [0, 1]\n"),
    (["augment=nope"], f"error: augment=nope: unknown; choose from {', '.join(choices('augment'))}\n"),
    (["strategy=feature", "augment=tokens"], "error: augment=tokens: strategy feature trains on features computed once"),
    (["-m", "optim.lr=-1", "strategy=full,prompt"], "optim.lr=-1.0: must be > 0"),
    (
        ["task=csv", "task.path=mine.csv", "task.text_column=body"],
        "task.text_column=body: no such column in mine.csv; columns: text, label",
    ),
    (["model.source=asset:nope"], "model.source=asset:<name>=nope: unknown name; known: minilm_l3, minilm_l6"),
    (["model=saved", "model.source=runs:/0123456789abcdef/model"], "error: model.source=runs:/0123456789abcdef/model: no such MLflow run"),
    (["model=saved"], "error: model.source=runs:/<run_id>/model: give a run's id: model.source=runs:/<run_id>/model\n"),
    (["tracking.save_model=sometimes"], "error: tracking.save_model=sometimes: must be one of auto, always, never\n"),
    (["tracking.uri=http://127.0.0.1:9"], "tracking.uri=http://127.0.0.1:9: the MLflow server does not answer"),
    (
        ["tracking.uri=postgresql://sweep:hunter2@127.0.0.1:9/mlflow"],
        "tracking.uri=postgresql://sweep:***@127.0.0.1:9/mlflow: cannot connect",
    ),
]


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_fails_clearly_and_records_nothing(tmp_path, args, message):
    (tmp_path / "mine.csv").write_text("text,label\na,0\nb,1\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("text,label\n")
    result = run_cli(*args, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line, no Hydra report
    assert message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert_nothing_recorded(tmp_path)


def test_a_bad_value_is_refused_without_importing_the_training_stack(tmp_path):
    """Config errors answer in about a second: validating imports no Lightning, torch, MLflow or transformers (the
    AdaLoRA strategy's Lightning callback once made every bad value cost the 6 s of importing Lightning)."""
    probe = "import sys, runpy; sys.argv = ['x', 'optim.batch_size=0']\ntry:\n    runpy.run_module('sweep.run', run_name='__main__')\n"
    probe += "except SystemExit as e:\n    print('exit', e.code)\n"
    probe += "print(sorted(m for m in ('pytorch_lightning', 'torch', 'mlflow', 'transformers', 'peft', 'optuna') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "optim.batch_size" in result.stderr
    assert result.stdout.strip().splitlines()[-2:] == ["exit 2", "[]"], result.stdout + result.stderr[-2000:]


def test_help_lists_the_config_groups(tmp_path):
    result = run_cli("--help", cwd=tmp_path, timeout=60)
    assert result.returncode == 0
    for line in (
        f"model: {', '.join(choices('model'))}",
        f"strategy: {', '.join(choices('strategy'))}",
        f"task: {', '.join(choices('task'))}",
    ):
        assert line in result.stdout
