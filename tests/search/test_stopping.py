"""Study-level stops (search.patience, search.timeout, search.target) on a real sqlite study: the jobs stand in for by
a launcher that returns constructed values (tests/search/test_worker.py), so each stop's exact trial is known."""

from __future__ import annotations

import pytest

from tests.conftest import compose, run_cli

PRUNED = "pruned"


def study_of(tmp_path, *overrides: str):
    from sweep.search.plan import plan_search
    from sweep.search.storage import open_storage
    from sweep.search.study import open_study

    plan = plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}", "search.sampler=random", *overrides), [])
    storage = open_storage(plan.storage_url)
    return plan, storage, open_study(plan, storage)


def worker_of(plan, study, storage, values: list):
    """A worker whose trial n ends with ``values[n]`` (a value, or PRUNED)."""
    from sweep.pipeline.outcome import JobOutcome
    from sweep.search.worker import Worker

    def launch(overrides, number):
        value = values[number]
        return JobOutcome("pruned", pruned_step=1) if value == PRUNED else JobOutcome("finished", value=value)

    return Worker(plan, study, storage, launch, compose=None, close_run=lambda *a: None, beat=lambda: None)


@pytest.mark.parametrize(
    ("options", "values", "trials", "said"),
    [
        # trial 1 is the best; 2, 3, 4 do not beat it: the stop comes right after trial 4, not one trial later
        (["search.patience=3"], [0.5, 0.7, 0.6, 0.69, 0.65, 0.9, 0.9], 5,
         "search.patience=3: no improvement in the last 3 finished trials (best 0.7 at trial 1)"),
        # an improvement resets the count: trial 4 (0.71) is one, so 5, 6, 7 end it
        (["search.patience=3"], [0.5, 0.7, 0.6, 0.69, 0.71, 0.6, 0.6, 0.6, 0.99], 8, "(best 0.71 at trial 4)"),
        # not above min_delta: 0.705 and 0.71 do not count as improvements on 0.7, but 0.71 is the best
        (["search.patience=3", "search.min_delta=0.01"], [0.5, 0.7, 0.705, 0.71, 0.6, 0.9], 5,
         "no improvement above 0.01 in the last 3 finished trials (best 0.71 at trial 3)"),
        # a pruned trial is not a finished one: trial 2 does not count
        (["search.patience=3"], [0.5, 0.7, PRUNED, 0.6, 0.69, 0.65, 0.9], 6, "(best 0.7 at trial 1)"),
        # the target: reached by trial 2, so no trial 3
        (["search.target=0.8"], [0.5, 0.6, 0.85, 0.9, 0.95], 3, "search.target=0.8: reached by trial 2 (val/acc 0.85)"),
    ],
)  # fmt: skip
def test_a_study_level_stop_fires_right_after_the_trial_that_makes_it_true(tmp_path, options, values, trials, said):
    from sweep.search.stopping import PATIENCE, TARGET

    plan, storage, study = study_of(tmp_path, "search.n_trials=9", *options)
    worker = worker_of(plan, study, storage, values)
    worker.run(1)
    assert len(study.trials) == trials
    assert worker.stop.reason == (TARGET if "search.target=0.8" in options else PATIENCE)
    assert said in worker.stop.said


def test_a_stop_holds_for_every_worker_with_its_setting_and_another_setting_continues(tmp_path):
    """Worker A stops on patience; a trial that was in flight elsewhere then improves. A second worker with the same
    setting stops on the stored stop (it must not run on because the condition went false); one with patience raised
    judges afresh and runs trials."""
    import optuna

    from sweep.search.stopping import PATIENCE, STOP, study_attrs

    plan, storage, study = study_of(tmp_path, "search.n_trials=9", "search.patience=2")
    first = worker_of(plan, study, storage, [0.7, 0.6, 0.6, 0.9])
    first.run(1)
    assert len(study.trials) == 3 and first.stop.reason == PATIENCE
    assert study_attrs(study)[STOP]["setting"] == [2, 0.0]
    study.add_trial(optuna.trial.create_trial(value=0.99))  # the late result of a trial that was in flight

    same = worker_of(plan, study, storage, [0.5] * 9)
    same.run(1)
    assert len(study.trials) == 4 and same.stop.said == first.stop.said

    raised, _, _ = study_of(tmp_path, "search.n_trials=6", "search.patience=5")
    again = worker_of(raised, study, storage, [0.5] * 9)
    again.run(1)
    assert len(study.trials) == 6 and again.stop.reason == "budget"


def test_the_timeout_clock_is_the_studys_and_survives_a_restart(tmp_path, monkeypatch):
    import time

    from sweep.search import stopping
    from sweep.search.storage import open_storage
    from sweep.search.study import open_study

    plan, storage, study = study_of(tmp_path, "search.n_trials=2", "search.timeout=3600")
    started = stopping.start_clock(study)
    assert abs(started - time.time()) < 60
    worker_of(plan, study, storage, [0.5, 0.6]).run(1)
    assert len(study.trials) == 2

    # a day later, the same command with a larger budget: the study's clock ran on, no fresh hour
    later = started + 3601
    monkeypatch.setattr(stopping.time, "time", lambda: later)
    more, _, _ = study_of(tmp_path, "search.n_trials=5", "search.timeout=3600")
    resumed = open_study(more, open_storage(more.storage_url))
    assert stopping.start_clock(resumed) == started  # not restarted
    worker = worker_of(more, resumed, storage, [0.5] * 5)
    worker.run(1)
    assert len(resumed.trials) == 2 and worker.stop.reason == stopping.TIMEOUT
    assert worker.stop.said.startswith("search.timeout=3600: the study's clock reached 3601 s (it started ")

    longer, _, _ = study_of(tmp_path, "search.n_trials=3", "search.timeout=7200")  # a longer timeout continues it
    worker_of(longer, resumed, storage, [0.5] * 5).run(1)
    assert len(resumed.trials) == 3


def test_an_older_study_starts_its_clock_at_its_first_trial(tmp_path):
    import optuna

    from sweep.search.stopping import STARTED, start_clock, study_attrs

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'old.db'}", study_name="old")
    study.tell(study.ask(), 0.5)
    assert STARTED not in study_attrs(study)
    assert start_clock(study) == study.trials[0].datetime_start.timestamp()


def test_the_stop_reason_is_on_the_parent_run_and_in_the_summary(tmp_path, capsys, monkeypatch):
    from mlflow.tracking import MlflowClient
    from omegaconf import OmegaConf

    from sweep.search import summary
    from sweep.search.summary import end_of_search

    monkeypatch.setattr(summary, "write_plots", lambda study, folder: None)  # Optuna's plots: seconds, and not what is tested
    from sweep.tracking.search_runs import SearchTracking

    plan, storage, study = study_of(tmp_path, "search.n_trials=9", "search.patience=2")
    worker = worker_of(plan, study, storage, [0.5, 0.8, 0.7, 0.6, 0.9])
    worker.run(1)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("sweep")
    parent = client.create_run(experiment).info.run_id
    tracking = SearchTracking(client, experiment, "", parent, 600)
    config = OmegaConf.create({"paths": {"output_dir": str(tmp_path)}, "hydra": {"runtime": {"choices": {}}}})
    end_of_search(plan, study, tracking, config, stop_reason=worker.stop.reason, stop_said=worker.stop.said)
    said = "search.patience=2: no improvement in the last 2 finished trials (best 0.8 at trial 1)"
    assert client.get_run(parent).data.tags["search.stop_reason"] == said
    assert f"stopped: {said}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["search.patience=0"], "error: search.patience=0: must be >= 1 (complete trials without improvement), or null\n"),
        (["search.timeout=-5"], "error: search.timeout=-5.0: must be > 0 (seconds), or null\n"),
        (["search.min_delta=-0.1"], "error: search.min_delta=-0.1: must be >= 0\n"),
        (["+search.constraints.gpu_hours=1"],
         "error: search.constraints.gpu_hours=1.0: unknown constraint; allowed: trainable_share, train_s, peak_memory_mb\n"),
        (["+search.constraints.train_s=0"], "error: search.constraints.train_s=0.0: must be > 0\n"),
        (["+search.constraints.trainable_share=2"], "error: search.constraints.trainable_share=2.0: must be in (0, 1] (a fraction)\n"),
    ],
)  # fmt: skip
def test_bad_stop_and_constraint_values_are_one_line_naming_the_key(tmp_path, args, line):
    """In process (the plan, as the sweeper builds it first); the CLI's exit 2 with that one line is checked once below."""
    from sweep.config.errors import ConfigError
    from sweep.search.plan import plan_search

    with pytest.raises(ConfigError) as error:
        plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}", *args), [])
    assert f"error: {error.value}\n" == line


def test_a_bad_constraint_name_exits_2_with_one_line_and_touches_nothing(tmp_path):
    result = run_cli("-m", "search=optuna", "model=tiny_bert", "+search.constraints.gpu_hours=1", cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    allowed = "trainable_share, train_s, peak_memory_mb"
    assert result.stderr == f"error: search.constraints.gpu_hours=1.0: unknown constraint; allowed: {allowed}\n"
    assert not (tmp_path / "outputs" / "optuna").exists()
