"""search.confirm: the best trials again with new seeds, on a real sqlite study and a real MLflow store; the jobs
stand in for by a launcher that records what it is asked and opens the run a job would (tests/search/test_worker.py)."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.conftest import TINY_DATA, compose, run_cli


def search(tmp_path, *overrides: str):
    """A finished study of 4 trials (values 0.50, 0.60, 0.70, 0.80 by number), its parent run, and its tracking."""
    from mlflow.tracking import MlflowClient

    from sweep.pipeline.outcome import JobOutcome
    from sweep.search.plan import plan_search
    from sweep.search.storage import open_storage
    from sweep.search.study import open_study
    from sweep.search.worker import Worker
    from sweep.tracking.search_runs import SearchTracking

    plan = plan_search(compose("search=optuna", f"paths.output_dir={tmp_path}", "search.n_trials=4", *overrides), [])
    storage = open_storage(plan.storage_url)
    study = open_study(plan, storage)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("sweep")
    tracking = SearchTracking(client, experiment, uri, client.create_run(experiment).info.run_id, 600)
    worker = Worker(plan, study, storage, lambda o, n: JobOutcome("finished", value=0.5 + n / 10), None, lambda *a: None, lambda: None)
    worker.run(1)
    return plan, study, tracking, worker


class Jobs:
    """A launcher: each confirmation job opens its run under the parent, tagged as the bound job tags it, and
    finishes with ``values[(trial, seed)]`` (None: the job fails)."""

    def __init__(self, tracking, values: dict):
        self.tracking, self.values, self.launched = tracking, values, []

    def __call__(self, overrides: list[str], number: int):
        from sweep.pipeline.outcome import JobOutcome
        from sweep.search.claims import tag_run
        from sweep.tracking.job_run import JobRun

        trial = int(next(a for a in overrides if a.startswith("+trial.number=")).split("=")[1])
        seed = int(next(a for a in overrides if a.startswith("seed=")).split("=")[1])
        self.launched.append((trial, seed, number, overrides))
        t = self.tracking
        run = JobRun.open(t.client, t.experiment_id, f"job-{number}", {"optuna.trial": str(trial)}, {"seed": seed}, t.parent_run_id)
        tag_run(t.uri, run.run_id, trial, seed, t.client)
        value = self.values.get((trial, seed), 0.5)
        if value is None:
            run.finish("failed", error="RuntimeError: boom")
            return JobOutcome("failed", error="RuntimeError: boom", run_id=run.run_id)
        run.log_metrics({"best_val/acc": value})
        run.finish("finished")
        return JobOutcome("finished", value=value, run_id=run.run_id)


def confirmer(plan, study, tracking, worker, jobs):
    from sweep.search.confirm import Confirmer

    seeded = lambda overrides: SimpleNamespace(root=SimpleNamespace(seed=42))  # noqa: E731 the trials' own seed (conf/config.yaml)
    return Confirmer(plan, study, tracking, jobs, seeded, worker.job_overrides)


def test_the_top_trials_run_again_with_new_seeds_and_the_ranking_says_what_changed(tmp_path):
    from sweep.search.claims import read_claims
    from sweep.search.confirmed import confirmation_report
    from sweep.search.liveness import budget_used

    plan, study, tracking, worker = search(tmp_path, "search.confirm=2", "search.confirm_top=2")
    # the search's best is trial 3 (0.80), then trial 2 (0.70); over new seeds trial 2 is better, and trial 3 fails once
    jobs = Jobs(tracking, {(3, 1042): 0.60, (3, 2042): None, (2, 1042): 0.72, (2, 2042): 0.68})
    assert confirmer(plan, study, tracking, worker, jobs).run() == 3
    assert [(trial, seed, number) for trial, seed, number, _ in jobs.launched] == [
        (3, 1042, 103001),
        (2, 1042, 102001),
        (3, 2042, 103002),
        (2, 2042, 102002),
    ]  # fmt: skip  round by round: every trial's first seed, then every second
    for trial, seed, _, overrides in jobs.launched:  # exactly the trial's overrides (its binding too) but the seed
        assert overrides == [*study.trials[trial].user_attrs["overrides"], f"seed={seed}"]
    assert len(study.trials) == 4 and budget_used(study) == 4  # no trial added, none counted
    assert {key: c.state for key, c in read_claims(study).items()} == {
        (3, 1042): "finished", (3, 2042): "failed", (2, 1042): "finished", (2, 2042): "finished",
    }  # fmt: skip
    text, tags = confirmation_report(study, plan)
    assert "| 1 | 2 | 0.7000 | 0.7000 ± 0.0283 (n=2) | 1042, 2042 |  |" in text
    assert "| 2 | 3 | 0.8000 | 0.6000 (n=1) | 1042 | 1 failed |" in text
    assert "confirmation changed the order: trial 2 (0.7000 ± 0.0283 (n=2)) ranks first, ahead of the search's best, trial 3" in text
    assert tags == {"confirm.order": "changed", "confirm.best_trial": "2"}
    # run again (a resumed command): finished and failed ones are done, nothing is launched
    again = Jobs(tracking, {})
    assert confirmer(plan, study, tracking, worker, again).run() == 0 and again.launched == []


def test_a_resumed_confirmation_runs_only_what_did_not_finish(tmp_path):
    """After a kill -9: a claim left running by a dead process runs again (its run ended), unless its run had
    finished (found by its tags); an interrupted one (returned) runs again; finished ones never do."""
    from sweep.runtime.owners import this_process
    from sweep.search import claims
    from sweep.tracking.job_run import JobRun

    plan, study, tracking, worker = search(tmp_path, "search.confirm=2", "search.confirm_top=2")
    jobs = Jobs(tracking, {})
    confirmer(plan, study, tracking, worker, jobs).run()
    assert len(jobs.launched) == 4
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = {**this_process(), "pid": int(dead.stdout), "started": 0.0}
    found = claims.read_claims(study)
    runs = {(int(r.data.tags["confirm.of_trial"]), int(r.data.tags["confirm.seed"])): r.info.run_id
            for r in tracking.client.search_runs([tracking.experiment_id], "tags.`confirm.seed` != ''")}  # fmt: skip
    # (3, 2042): the process died while its job trained: its run is still RUNNING; (2, 2042) was interrupted;
    # (2, 1042): the job had finished its run (tagged) before the process died: its claim still says running
    orphan = runs[(3, 2042)]
    tracking.client.set_tag(orphan, "state", "running")
    tracking.client.update_run(orphan, status="RUNNING")
    study._storage.set_study_system_attr(study._study_id, claims.run_key(3, 2042), orphan)
    JobRun(tracking.client, runs[(2, 2042)]).finish("interrupted")
    for key, state in (((3, 2042), "running"), ((2, 1042), "running"), ((2, 2042), "returned")):
        claim = found[key]
        claim.record.update(state=state, owner=owner)
        claims.write(study, claim)
    again = Jobs(tracking, {})
    assert confirmer(plan, study, tracking, worker, again).run() == 2
    assert sorted((trial, seed) for trial, seed, _, _ in again.launched) == [(2, 2042), (3, 2042)]
    assert tracking.client.get_run(orphan).info.status == "FAILED"
    assert {c.state for c in claims.read_claims(study).values()} == {"finished"}


def test_a_claim_is_held_once_and_a_dead_one_is_taken_over(tmp_path):
    import optuna

    from sweep.search import claims
    from sweep.search.confirm import running_view

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'x.db'}")
    for value in (0.5, 0.6, 0.7, 0.8):
        study.add_trial(optuna.trial.create_trial(value=value))
    lock = tmp_path / "x.db"
    claim, before = claims.try_claim(study, lock, 3, 1042, 1, grace_period=600)
    assert before is None and claims.try_claim(study, lock, 3, 1042, 1, grace_period=600) is None  # a live owner holds it
    # a starting worker ends the RUNNING runs of trials that do not run: one being confirmed counts as running
    assert [t.number for t in running_view(study, 600).get_trials(states=[optuna.trial.TrialState.RUNNING])] == [3]
    claim.record.update(owner={"host": "elsewhere", "pid": 1, "started": 0}, beat=0.0)  # another host, silent for ages
    claims.write(study, claim)
    taken, replaced = claims.try_claim(study, lock, 3, 1042, 1, grace_period=600)
    assert replaced.record["owner"]["host"] == "elsewhere" and claims.still_mine(study, taken)
    taken.record.update(state="finished", value=0.7)
    claims.write(study, taken)
    assert claims.try_claim(study, lock, 3, 1042, 1, grace_period=600) is None  # done: never again


def test_seeds_are_new_and_the_top_is_per_group():
    from sweep.search.confirm import new_seeds

    assert new_seeds(42, 3, {42}) == [1042, 2042, 3042]
    assert new_seeds(0, 2, {0, 1000}) == [2000, 3000]  # a seed a trial used (seed searched) is skipped


@pytest.mark.parametrize(
    "args, line",
    [
        (["search.confirm=-1"], "error: search.confirm=-1: must be >= 0 (new seeds per confirmed trial; 0: no confirmation)\n"),
        (["search.confirm_top=0"], "error: search.confirm_top=0: must be >= 1 (how many of the best trials are confirmed)\n"),
        (["search.confirm=two"], "error: search.confirm"),
        (["search.confirm_within=[model]"], "error: search.confirm_within=['model']: ['model'] are not searched choices; searched: []\n"),
    ],
)
def test_bad_confirm_values_exit_2_with_one_line(tmp_path, args, line):
    result = run_cli("-m", "search=optuna", "model=tiny_bert", *args, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(line) and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "outputs" / "optuna").exists()


@pytest.mark.slow
def test_a_search_confirms_its_best_trials_as_children_of_its_parent(tmp_path, cache_dir):
    """End to end: 3 trials, the top 2 confirmed with 2 new seeds each, as MLflow children of the study's parent
    whose params equal their trial's but for the seed; the same command again re-runs nothing."""
    from mlflow.tracking import MlflowClient

    args = ["-m", "search=optuna", "model=tiny_bert", *TINY_DATA, "search.n_trials=3", "search.confirm=2", "search.confirm_top=2"]
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "### Confirmation: the top 2 by val/acc, each re-run with 2 new seed(s)" in result.stdout
    assert "the search's best, trial" in result.stdout or "confirmation changed the order: trial" in result.stdout

    client = MlflowClient(f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("sweep").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trials = {r.data.tags["optuna.trial"]: r for r in children if "confirm.of_trial" not in r.data.tags}
    confirmations = [r for r in children if "confirm.of_trial" in r.data.tags]
    assert len(trials) == 3 and len(confirmations) == 4 and len(children) == 7
    assert {r.data.tags["confirm.seed"] for r in confirmations} == {"1042", "2042"}
    assert len({r.data.tags["confirm.of_trial"] for r in confirmations}) == 2
    for run in confirmations:
        trial = trials[run.data.tags["confirm.of_trial"]]
        differ = {k for k in {*run.data.params, *trial.data.params} if run.data.params.get(k) != trial.data.params.get(k)}
        assert differ == {"seed"} and run.data.params["seed"] == run.data.tags["confirm.seed"]
        assert run.data.tags["state"] == "finished" and run.data.tags["optuna.trial"] == run.data.tags["confirm.of_trial"]
    assert "search/confirm.md" in {a.path for a in client.list_artifacts(parent.info.run_id, "search")}
    assert "### Confirmation" in parent.data.tags["mlflow.note.content"] and parent.info.status == "FINISHED"

    again = run_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")) == 7
