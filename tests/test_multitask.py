"""Multi-task training: sub-tasks stacked with their own heads, per-task metrics in MLflow, bad lists refused."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import TINY_DATA, run_cli
from tests.test_cli import all_runs, assert_nothing_recorded

MULTI = ("task=multi", "task.tasks=[rotten_tomatoes,rotten_subjectivity]")


def test_sub_tasks_are_stacked_with_their_own_label_ids(job_config):
    from sweep.data.tasks import load_splits

    splits = load_splits(job_config(*MULTI, *TINY_DATA).root.task)
    assert splits.task_names == ["rotten_tomatoes", "rotten_subjectivity"]
    assert splits.task_label_counts == [2, 2]
    assert splits.label_names == [
        "rotten_tomatoes/rotten",
        "rotten_tomatoes/fresh",
        "rotten_subjectivity/review",
        "rotten_subjectivity/plot",
    ]
    # task.train_size=64 applies to each sub-task
    assert np.bincount(splits.train.tasks).tolist() == [64, 64]
    assert np.bincount(splits.val.tasks).tolist() == [32, 32]
    assert set(splits.train.labels.tolist()) == {0, 1}  # ids count within each sub-task


def test_temperature_sampling_evens_out_sub_tasks():
    from sweep.config.schema import TaskConfig
    from sweep.data.multitask import sampling_weights

    tasks = np.array([0] * 900 + [1] * 100)
    assert sampling_weights(TaskConfig(name="m", kind="multi", tasks=["a", "b"]), tasks) is None  # proportional
    weights = sampling_weights(
        TaskConfig(name="m", kind="multi", tasks=["a", "b"], sampling="temperature", sampling_temperature=2.0), tasks
    )
    share_b = weights[tasks == 1].sum() / weights.sum()
    assert share_b == pytest.approx(100**0.5 / (900**0.5 + 100**0.5))  # 0.25 instead of 0.1


@pytest.mark.slow
def test_every_strategy_trains_multi_task_with_per_task_metrics(tmp_path, cache_dir):
    result = run_cli(
        "-m", "strategy=full,partial,feature,prompt,lora", "model=tiny_bert", *MULTI, *TINY_DATA, "task.sampling=temperature",
        "trainer.max_epochs=2", cwd=tmp_path, cache=cache_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    client, runs = all_runs(tmp_path)
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    assert sorted(run.data.tags["strategy"] for run in children) == ["feature", "full", "lora", "partial", "prompt"]
    for run in children:
        metrics = run.data.metrics
        assert run.data.tags["state"] == "finished"
        for split in ("val", "test"):
            per_task = [metrics[f"{split}/rotten_tomatoes/acc"], metrics[f"{split}/rotten_subjectivity/acc"]]
            assert metrics[f"{split}/acc"] == pytest.approx(sum(per_task) / 2)  # the aggregate is their mean
            assert f"{split}/rotten_subjectivity/f1" in metrics
        history = client.get_metric_history(run.info.run_id, "val/rotten_tomatoes/acc")
        assert len(history) == 2  # one per validation: logged like any metric


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["task.tasks=[rotten_tomatoes]"], "error: task.tasks=['rotten_tomatoes']: multi-task training needs at least two sub-tasks"),
        (
            ["task.tasks=[rotten_tomatoes,nope]"],
            "error: task.tasks=['rotten_tomatoes', 'nope']: unknown sub-task 'nope'; known: chatterbot_qa, conll, csv, debian_synopsis,",
        ),
        (["task.sampling=random"], "error: task.sampling=random: must be one of proportional, temperature"),
        (["task.tasks=[rotten_tomatoes,mnist]"], "error: task.tasks=['rotten_tomatoes', 'mnist']: 'mnist' has image rows; multi-task"),
    ],
)
def test_bad_multi_task_lists_fail_clearly_and_record_nothing(tmp_path, cache_dir, args, message):
    result = run_cli("model=tiny_bert", "task=multi", *TINY_DATA, *args, cwd=tmp_path, cache=cache_dir, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(message), result.stderr[-2000:]
    assert_nothing_recorded(tmp_path)


@pytest.mark.slow
def test_a_search_optimises_the_mean_of_the_sub_tasks(tmp_path, cache_dir):
    result = run_cli(
        "-m", "search=optuna", "search.n_trials=2", "model=tiny_bert", *MULTI, *TINY_DATA, "trainer.max_epochs=1",
        cwd=tmp_path, cache=cache_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    client, runs = all_runs(tmp_path)
    trials = [run for run in runs if "optuna.trial" in run.data.tags]
    assert len(trials) == 2 and all(run.data.tags["state"] == "finished" for run in trials)
    for run in trials:
        history = client.get_metric_history(run.info.run_id, "val/acc")
        assert len(history) >= 2  # the search validates several times a trial, for pruning
        assert run.data.metrics["best_val/acc"] == pytest.approx(max(point.value for point in history))
        assert {"val/rotten_tomatoes/acc", "val/rotten_subjectivity/acc"} <= set(run.data.metrics)
