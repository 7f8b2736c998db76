"""The search worker's budget with several slots, driven by a launcher that stands in for the jobs."""

import threading
import time

from tests.conftest import compose


def test_a_trial_that_returns_after_another_slot_met_the_budget_is_run_again(tmp_path):
    """Regression: trial 0's SLURM job was cancelled, but the sweeper learnt it only after the other
    slot had finished trials 1 and 2 and, counting trial 0 as running, stopped the worker for a met
    budget. Trial 0 then returned to the budget and nobody ran another: 2 trials of 3."""
    from sweep.pipeline.outcome import JobOutcome
    from sweep.search.liveness import budget_used
    from sweep.search.plan import plan_search
    from sweep.search.storage import open_storage
    from sweep.search.study import open_study
    from sweep.search.worker import Worker

    plan = plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}", "search.n_trials=3", "search.n_jobs=2"), [])
    storage = open_storage(plan.storage_url)
    study = open_study(plan, storage)
    others_done = threading.Event()

    def launch(overrides, number):
        if number == 0:  # its job was cancelled; the sweeper hears of it late
            assert others_done.wait(60)
            time.sleep(1.5)  # the other slot asks meanwhile, and finds the budget met
            return JobOutcome("interrupted", error="its SLURM job ended without a result (CANCELLED)")
        if number == 2:
            others_done.set()
        return JobOutcome("finished", value=0.5 + number / 10)

    worker = Worker(plan, study, storage, launch, compose=None, close_run=lambda *a: None, beat=lambda: None)
    worker.run(2)

    states = {t.number: t.state.name for t in study.trials}
    assert states == {0: "FAIL", 1: "COMPLETE", 2: "COMPLETE", 3: "COMPLETE"}
    assert budget_used(study) == 3 and worker.stop.reason == "budget"


def test_a_trial_that_fails_before_its_job_opens_a_run_gets_a_failed_run_once(tmp_path):
    """Regression: a trial whose job never started (its overrides could not be composed) left no run:
    the comparison read "(no runs)" and the reason sat only in Optuna's user attributes."""
    import optuna
    from mlflow.tracking import MlflowClient

    from sweep.pipeline.outcome import JobOutcome
    from sweep.search.plan import plan_search
    from sweep.search.storage import open_storage
    from sweep.search.study import open_study
    from sweep.search.worker import Worker
    from sweep.tracking.search_runs import SearchTracking

    plan = plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}", "search.n_trials=2", "search.max_failure_rate=1"), [])
    storage = open_storage(plan.storage_url)
    study = open_study(plan, storage)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("sweep")
    parent = client.create_run(experiment).info.run_id
    tracking = SearchTracking(client, experiment, "", parent, 600)
    error = "trainer.max_epochs: Value '1.6' of type 'float' could not be converted to Integer"

    def launch(overrides, number):
        return JobOutcome("failed", error=error)  # as the launcher reports a job it could not compose

    record = lambda *args: tracking.record_failed_trial(plan.study_name, "study-uuid", *args)  # noqa: E731
    worker = Worker(plan, study, storage, launch, compose=None, close_run=lambda *a: None, beat=lambda: None, record_failure=record)
    worker.run(1)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2
    runs = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent}'")
    assert sorted(r.data.tags["optuna.trial"] for r in runs) == ["0", "1"]
    assert all(r.info.status == "FAILED" and r.data.tags["error"] == error and r.data.tags["optuna.study_id"] == "study-uuid" for r in runs)
    assert record(1, {}, [], error) in {r.info.run_id for r in runs}  # the trial's run already exists: none added
    assert len(client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent}'")) == 2


def test_a_run_its_job_finished_follows_its_trial_failed_or_returned(tmp_path):
    """Regression (chaos benchmark): a job ended its run FINISHED, then its sweeper (or its worker process)
    was killed before the result reached the study; the trial failed or returned to the budget and ran
    again, while its run stayed FINISHED with metrics: a result row for a trial the study never counted."""
    from mlflow.tracking import MlflowClient

    from sweep.pipeline.outcome import JobOutcome
    from sweep.search.plan import plan_search
    from sweep.search.storage import open_storage
    from sweep.search.study import open_study
    from sweep.search.worker import Worker
    from sweep.tracking.job_run import JobRun
    from sweep.tracking.search_runs import SearchTracking

    plan = plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}", "search.n_trials=2", "search.max_failure_rate=1"), [])
    storage = open_storage(plan.storage_url)
    study = open_study(plan, storage)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("sweep")
    tracking = SearchTracking(client, experiment, "", client.create_run(experiment).info.run_id, 600)
    worker = Worker(plan, study, storage, launch=None, compose=None, close_run=tracking.close_run, beat=lambda: None)
    runs = []
    for _ in range(2):
        trial = study.ask()
        run = JobRun.create(client, experiment, "job", {})
        run.finish("finished")  # the job got there; then its process or its sweeper was killed
        trial.set_user_attr("mlflow_run_id", run.run_id)
        runs.append((trial, run.run_id))
    (told, told_run), (returned, returned_run) = runs
    worker.tell(told, JobOutcome("failed", error="TerminatedWorkerError: a worker process was killed"))
    worker.return_trial(returned, "interrupted", "its worker died")
    worker.heartbeat.stop()
    told_tags, returned_tags = client.get_run(told_run).data.tags, client.get_run(returned_run).data.tags
    assert (client.get_run(told_run).info.status, told_tags["state"]) == ("FAILED", "failed")
    assert told_tags["error"].startswith("TerminatedWorkerError: a worker process was killed (its job had ended it as finished)")
    assert (client.get_run(returned_run).info.status, returned_tags["state"]) == ("KILLED", "interrupted")
    assert returned_tags["error"].startswith("its worker died")


def test_the_summarys_best_trial_is_the_one_that_keeps_its_model_on_a_tie():
    """Regression (chaos benchmark, PostgreSQL): Optuna's best_trial orders a tie in value arbitrarily on
    PostgreSQL; the summary, the parent's tag and best.yaml named trial 26 while trial 0 kept its model."""
    import optuna

    from sweep.search.summary import best_trials

    study = optuna.create_study(direction="maximize")
    for value in (0.34, 0.34, 0.2, 0.34):
        study.add_trial(optuna.trial.create_trial(value=value))

    class PostgreSQLOrder:  # what the RDB query may return on a tie
        directions = study.directions
        best_trial = study.trials[3]

        def get_trials(self, **kwargs):
            return study.get_trials(**kwargs)

    assert [t.number for t in best_trials(PostgreSQLOrder())] == [0]
