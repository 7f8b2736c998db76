"""search.constraints on a real sqlite study and a real MLflow store: each trial's constraint values (Optuna's and its
run's tags), the best and the confirmed trials among the feasible ones, the parent's record of the limits."""

from __future__ import annotations

import json

from tests.conftest import compose

# trial -> (value, logged metrics); limits: trainable_share <= 0.1, train_s <= 60
TRIALS = {
    0: (0.60, {"params_trainable_share": 0.05, "train_time_s": 30.0}),  # feasible
    1: (0.90, {"params_trainable_share": 1.0, "train_time_s": 30.0}),  # the best value, 10x the share: infeasible
    2: (0.70, {"params_trainable_share": 0.05}),  # no train_time_s logged: counted as violated
    3: (0.65, {"params_trainable_share": 0.02, "train_time_s": 59.0}),  # feasible, the best of those
}


def test_constraint_values_are_recorded_and_an_infeasible_trial_is_never_the_best(tmp_path):
    from mlflow.tracking import MlflowClient

    from sweep.pipeline.outcome import JobOutcome
    from sweep.search.confirm import selected
    from sweep.search.plan import plan_search
    from sweep.search.storage import open_storage
    from sweep.search.study import open_study
    from sweep.search.summary import best_trials, constraints_line
    from sweep.search.sweeper import OptunaSweeper
    from sweep.search.worker import Worker
    from sweep.tracking.job_run import JobRun
    from sweep.tracking.search_runs import SearchTracking

    limits = ["+search.constraints.trainable_share=0.1", "+search.constraints.train_s=60"]
    # the target is met only by the infeasible trial 1: the search goes on to its budget
    config = compose("search=optuna", f"paths.output_dir={tmp_path}", "search.n_trials=4", "search.target=0.8", *limits)
    plan = plan_search(config, [])
    storage = open_storage(plan.storage_url)
    study = open_study(plan, storage)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("sweep")
    tracking = SearchTracking(client, experiment, "", client.create_run(experiment).info.run_id, 600)
    tag_run = OptunaSweeper()._constraints(plan, tracking)  # as the sweeper makes it: the parent records the limits
    runs = {}

    def launch(overrides, number):
        run = JobRun.open(client, experiment, f"trial-{number}", {"optuna.trial": str(number)}, {}, tracking.parent_run_id)
        run.finish("finished")
        runs[number] = run.run_id
        value, metrics = TRIALS[number]
        return JobOutcome("finished", value=value, metrics=metrics, run_id=run.run_id)

    worker = Worker(plan, study, storage, launch, None, lambda *a: None, lambda: None, tag_run=tag_run)
    worker.run(1)
    assert worker.stop.reason == "budget" and len(study.trials) == 4

    constraints = {t.number: t.constraints for t in study.trials}
    assert constraints[1] == {"trainable_share": 9.0, "train_s": -0.5}  # measured / limit - 1: <= 0 is met
    assert constraints[2]["train_s"] == 1.0 and constraints[3]["train_s"] < 0
    assert study.trials[1].system_attrs["constraints:trainable_share"] == 9.0  # Optuna's own record, by name
    tags = client.get_run(runs[1]).data.tags
    assert (tags["constraint.trainable_share"], tags["constraint.train_s"], tags["constraint.feasible"]) == ("9", "-0.5", "false")
    assert client.get_run(runs[3]).data.tags["constraint.feasible"] == "true"
    assert json.loads(client.get_run(tracking.parent_run_id).data.tags["search.constraints"]) == {"train_s": 60, "trainable_share": 0.1}

    assert [t.number for t in best_trials(study)] == [3]  # not trial 1 (0.90), which breaks a limit
    assert [t.number for t in selected(study, 3, [])[0][1]] == [3, 0, 1]  # search.confirm: feasible ones first
    assert constraints_line(study, dict(plan.search.constraints), []) == (
        "constraints trainable_share <= 0.1, train_s <= 60: 2 of 4 complete trial(s) met them"
    )


def test_with_no_feasible_trial_the_best_overall_is_named_and_said_to_break_them():
    import optuna

    from sweep.search.summary import best_trials, constraints_line

    study = optuna.create_study(direction="maximize")
    for value, share in ((0.6, 0.5), (0.8, 2.0)):
        study.add_trial(optuna.trial.create_trial(value=value, constraints={"trainable_share": share}))
    assert [t.number for t in best_trials(study)] == [1]
    assert constraints_line(study, {"trainable_share": 0.1}, []).endswith(
        "0 of 2 complete trial(s) met them; none did, so the best below is the best overall and breaks them"
    )


def test_a_sampler_that_ignores_constraints_is_said_at_start():
    from sweep.search.constraints import sampler_note
    from sweep.search.samplers import CONSTRAINED, SAMPLERS

    assert set(CONSTRAINED) <= set(SAMPLERS.names())
    assert sampler_note("tpe", {"train_s": 60}) is None and sampler_note("random", {}) is None
    assert sampler_note("random", {"train_s": 60}).startswith("search.sampler=random does not use search.constraints when sampling")


def test_a_kept_model_under_constraints_is_the_best_feasible_trials():
    """tracking.save_model=auto under search.constraints: a job saves its model if it beats every feasible trial, and an
    infeasible job saves nothing while a feasible trial exists (the summary and best.yaml name the feasible best)."""
    from types import SimpleNamespace

    import optuna

    from sweep.pipeline.outcome import JobOutcome
    from sweep.tracking.kept_models import should_save

    study = optuna.create_study(direction="maximize")
    for value, share in ((0.9, 0.5), (0.7, 0.05)):  # trial 0 the best but infeasible (50 % trainable > 10 %)
        trial = study.ask()
        trial.set_constraint("trainable_share", share / 0.1 - 1.0)
        study.tell(trial, value)
    search = {"metrics": ["val/acc"], "directions": ["maximize"], "constraints": {"trainable_share": 0.1}}
    root = SimpleNamespace(tracking=SimpleNamespace(save_model="auto"), trainer=SimpleNamespace(fit=True, monitor="val/acc"), search=search)
    binding = SimpleNamespace(trial=SimpleNamespace(study=study), number=2)

    def job(value: float, share: float) -> bool:
        outcome = JobOutcome("finished", value=value, metrics={"params_trainable_share": share})
        return should_save(SimpleNamespace(root=root), binding, outcome)

    assert job(0.8, 0.01)  # feasible, beats the feasible 0.7 though not the infeasible 0.9
    assert not job(0.95, 0.5)  # infeasible: never kept while a feasible trial exists
    assert not job(0.6, 0.01)  # feasible but beaten
