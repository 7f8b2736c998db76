"""A job's run logs its data set even when another job of the grid inserts the same one at that moment."""

from __future__ import annotations


def test_a_data_set_insert_lost_to_another_job_is_retried(tmp_path):
    """Regression: two grid jobs logging one data set at once through an MLflow server on PostgreSQL; the
    server refused the slower with a duplicate key (dataset_pk) and the job failed. It retries, and links
    the data set the other job inserted."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from sweep.config.schema import TaskConfig
    from sweep.tracking.job_run import JobRun

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("sweep")
    run = JobRun.create(client, experiment, "job", {})
    real, calls = client.log_inputs, []

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the server's words when another job inserted the same data set first
            raise MlflowException('(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint "dataset_pk"')
        return real(*args, **kwargs)

    client.log_inputs = racing
    run.log_data(TaskConfig(name="rotten_tomatoes"), {"train": 64, "val": 32, "test": 32})
    run.finish("finished")
    assert len(calls) == 2
    (logged,) = client.get_run(run.run_id).inputs.dataset_inputs
    assert logged.dataset.name == "rotten_tomatoes"
