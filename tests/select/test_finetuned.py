"""The fine-tuned ranking read from a real MLflow store: which runs count, the best per model, and tau."""

from __future__ import annotations

import pytest
from scipy.stats import weightedtau

from sweep.select.finetuned import finetuned_results, weighted_tau


@pytest.fixture
def experiment(tmp_path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    return client, client.create_experiment("sweep", artifact_location=(tmp_path / "artifacts").as_uri())


def add_run(client, experiment_id, tags: dict, metrics: dict, status: str = "FINISHED") -> None:
    run = client.create_run(experiment_id, tags=tags)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, status)


def test_each_model_s_best_finished_fine_tuning_run_of_the_task_counts(experiment):
    client, experiment_id = experiment
    job = {"task": "rotten_tomatoes", "strategy": "full"}
    add_run(client, experiment_id, {**job, "model": "a"}, {"best_val/acc": 0.70, "best_val/loss": 0.6})
    add_run(client, experiment_id, {**job, "model": "a", "strategy": "lora"}, {"best_val/acc": 0.75, "best_val/loss": 0.5})
    add_run(client, experiment_id, {**job, "model": "b"}, {"best_val/acc": 0.60, "best_val/loss": 0.7})
    add_run(client, experiment_id, {**job, "model": "b"}, {"best_val/acc": 0.99}, status="FAILED")  # not finished
    add_run(client, experiment_id, {**job, "model": "b", "task": "other"}, {"best_val/acc": 0.98})  # another task
    pretrain = {"task": "rotten_tomatoes", "model": "b", "sweep.kind": "pretrain"}  # no strategy: fine-tunes nothing
    add_run(client, experiment_id, pretrain, {"best_val/acc": 0.97})
    add_run(client, experiment_id, {**job, "model": "b", "strategy": "feature", "sweep.kind": "select"}, {"best_val/acc": 0.96})
    add_run(client, experiment_id, {**job, "model": "c"}, {"best_val/loss": 0.4})  # no best_val/acc
    add_run(client, experiment_id, {**job, "model": "z"}, {"best_val/acc": 0.95})  # not a candidate

    found = finetuned_results(client, experiment_id, "rotten_tomatoes", ["a", "b", "c"], "best_val/acc", "max")
    assert set(found) == {"a", "b"}
    assert (found["a"].value, found["a"].strategy, found["a"].runs) == (0.75, "lora", 2)
    assert (found["b"].value, found["b"].runs) == (0.60, 1)
    by_loss = finetuned_results(client, experiment_id, "rotten_tomatoes", ["a", "b", "c"], "best_val/loss", "min")
    assert {model: item.value for model, item in by_loss.items()} == {"a": 0.5, "b": 0.7, "c": 0.4}

    scores = {"a": -0.5, "b": -0.7, "c": -0.6}
    assert weighted_tau(scores, found, "max") == pytest.approx(1.0)  # two models, same order
    # min: a lower loss is better; the transferability ranking a > c > b against c > a > b
    expected = weightedtau([-0.5, -0.7, -0.6], [-0.5, -0.7, -0.4]).statistic
    assert weighted_tau(scores, by_loss, "min") == pytest.approx(expected)
    assert weighted_tau({"a": 1.0, "c": 2.0}, found, "max") is None  # one candidate with results
