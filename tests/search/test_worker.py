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
