"""search.warm_start: a new study's first trials are the best configurations of an earlier study or of an experiment's
runs; a missing source or one that searched another space is refused before anything is made. Real sqlite storages
and MLflow stores, a launcher that stands in for the jobs."""

from __future__ import annotations

import pytest

from sweep.config.errors import ConfigError
from tests.conftest import compose


def finished_study(tmp_path, values: dict[float, float], extra: list[str] = ()):
    """A finished earlier search of the default space (optim.lr, optim.warmup_ratio): lr -> its value."""
    import optuna

    from sweep.search.plan import plan_search
    from sweep.search.storage import open_storage
    from sweep.search.study import open_study

    plan = plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}", "search.study_name=earlier", *extra), [])
    study = open_study(plan, open_storage(plan.storage_url))
    for lr, value in values.items():
        trial = optuna.trial.create_trial(
            params={"optim.lr": lr, "optim.warmup_ratio": 0.1},
            distributions={
                "optim.lr": optuna.distributions.FloatDistribution(1e-5, 3e-4, log=True),
                "optim.warmup_ratio": optuna.distributions.FloatDistribution(0.0, 0.2),
            },
            value=value,
        )
        study.add_trial(trial)
    return plan


def run_search(tmp_path, *overrides: str, trials: int = 4):
    from sweep.pipeline.outcome import JobOutcome
    from sweep.search.plan import plan_search
    from sweep.search.storage import open_storage
    from sweep.search.study import open_study
    from sweep.search.warm_start import warm_start
    from sweep.search.worker import Worker

    config = compose("search=optuna", f"paths.output_dir={tmp_path}", f"search.n_trials={trials}", "search.study_name=later", *overrides)
    plan = plan_search(config, [])
    storage = open_storage(plan.storage_url)
    study = open_study(plan, storage)
    enqueued = warm_start(study, plan.warm_configurations, plan.search.warm_start) if plan.warm_configurations else 0
    launched = []

    def launch(job_overrides, number):
        launched.append([o for o in job_overrides if o.startswith("optim.")])
        return JobOutcome("finished", value=0.5)

    Worker(plan, study, storage, launch, compose=None, close_run=lambda *a: None, beat=lambda: None).run(1)
    return enqueued, launched, study


def test_the_best_configurations_of_an_earlier_study_are_the_first_trials(tmp_path):
    finished_study(tmp_path, {1e-4: 0.70, 2e-4: 0.80, 5e-5: 0.75, 1e-5: 0.60})
    enqueued, launched, study = run_search(tmp_path, "search.warm_start=earlier", "search.warm_start_top=2", trials=4)
    assert enqueued == 2
    assert launched[0] == ["optim.lr=0.0002", "optim.warmup_ratio=0.1"]  # the best first
    assert launched[1] == ["optim.lr=5e-05", "optim.warmup_ratio=0.1"]
    assert all(not line[0].startswith("optim.lr=0.0001") for line in launched[2:])  # then sampled as usual
    assert len(study.trials) == 4
    # the same command again (a resumed study) enqueues nothing
    enqueued, _, _ = run_search(tmp_path, "search.warm_start=earlier", "search.warm_start_top=2", trials=4)
    assert enqueued == 0


def test_a_cold_start_enqueues_nothing(tmp_path):
    finished_study(tmp_path, {2e-4: 0.80})
    enqueued, launched, _ = run_search(tmp_path, trials=2)
    assert enqueued == 0 and launched[0] != ["optim.lr=0.0002", "optim.warmup_ratio=0.1"]


def test_a_study_of_another_storage_by_url(tmp_path):
    earlier = tmp_path / "earlier"
    plan = finished_study(earlier, {2e-4: 0.80, 1e-4: 0.70})
    enqueued, launched, _ = run_search(
        tmp_path / "later", f"search.warm_start={plan.storage_url}::earlier", "search.warm_start_top=1", trials=1
    )
    assert enqueued == 1 and launched[0][0] == "optim.lr=0.0002"


def test_the_best_runs_of_an_experiment(tmp_path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("grid")
    for lr, acc in ((3e-4, 0.7), (1e-4, 0.8)):
        run = client.create_run(experiment, tags={"model": "minilm_l6", "strategy": "full", "state": "finished"})
        client.log_param(run.info.run_id, "optim.lr", str(lr))
        client.log_param(run.info.run_id, "strategy.name", "full")
        client.log_metric(run.info.run_id, "best_val/acc", acc)
    enqueued, launched, _ = run_search(tmp_path, "search.warm_start=mlflow:grid", "search.warm_start_top=1", trials=1)
    assert enqueued == 1 and launched[0][0] == "optim.lr=0.0001"


@pytest.mark.parametrize(
    "source, says",
    [
        ("nope", "no study 'nope': "),
        ("mlflow:nope", "search.warm_start=mlflow:nope: no MLflow store at "),
        ("later", "is this very study"),
    ],
)
def test_a_missing_source_is_one_error_naming_the_key(tmp_path, source, says):
    from sweep.search.plan import plan_search

    finished_study(tmp_path, {2e-4: 0.80})
    with pytest.raises(ConfigError) as error:
        plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}", "search.study_name=later", f"search.warm_start={source}"), [])
    assert error.value.key == "search.warm_start" and says in str(error.value)


def test_a_source_that_searched_another_space_is_refused(tmp_path):
    import optuna

    from sweep.search.plan import plan_search
    from sweep.search.storage import open_storage, storage_url

    study = optuna.create_study(study_name="other", storage=open_storage(storage_url(None, "other", str(tmp_path))))
    distributions = {"optim.weight_decay": optuna.distributions.FloatDistribution(0.0, 0.1)}
    study.add_trial(optuna.trial.create_trial(params={"optim.weight_decay": 0.05}, distributions=distributions, value=0.8))
    with pytest.raises(ConfigError) as error:
        plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}", "search.warm_start=other"), [])
    assert "searched another space: optim.weight_decay; this search: optim.lr, optim.warmup_ratio" in str(error.value)


def test_warm_start_top_must_be_positive(tmp_path):
    from sweep.search.plan import plan_search

    with pytest.raises(ConfigError, match="search.warm_start_top=0"):
        plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}", "search.warm_start_top=0"), [])


def test_a_value_this_search_cannot_sample_is_not_carried_over(tmp_path):
    """A range narrowed since the source ran (tonight's space): Optuna would run an enqueued value as given."""
    from sweep.search.plan import plan_search
    from sweep.search.warm_start import in_space

    plan = plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}"), [])  # optim.lr in [1e-5, 3e-4]
    assert in_space(plan, {"optim.lr": 5.0, "optim.warmup_ratio": 0.1, "nope": 1}) == {"optim.warmup_ratio": 0.1}
