"""Optuna searches end to end: real CLI subprocesses, real sqlite/journal storages, real MLflow."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sweep.config.schema import is_search
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

# MiniLM-L3 on a few batches: 12 optimizer steps an epoch, 4 validations an epoch
L3_SMALL = [
    "model=minilm_l3",
    "task.train_size=192",
    "task.val_size=64",
    "task.test_size=32",
    "optim.batch_size=16",
    "trainer.max_epochs=2",
]
# half the trials can learn, half cannot move (lr 1e-9): the pruner must stop those
HOPELESS = ["search.space.optim.lr=choice(1e-4,1e-9)", "search.metrics=[val/loss]", "search.directions=[minimize]", "search.sampler=random",
            # the median pruner from the third trial on (default: the fifth); as by default, from half of each budget
            "+search.pruner_options.n_startup_trials=2"]  # fmt: skip


def study_of(cwd: Path, storage: str | None = None):
    import optuna

    if storage is None:
        (db,) = (cwd / "outputs" / "optuna").glob("*.db")
        storage = f"sqlite:///{db}"
    elif storage.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(cwd / storage[len("journal:") :])))
    (name,) = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage)


def mlflow_runs(cwd: Path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{cwd / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("sweep")
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


def counted(study):
    from sweep.search.liveness import counts

    return [t for t in study.trials if counts(t)]


def test_pruning_across_processes_and_best_yaml(tmp_path, cache_dir):
    import optuna

    # no early stopping: a hopeless trial that is not pruned trains its whole budget
    no_stop = "trainer.early_stopping_patience=null"
    # the random sampler's draws with seed 56 (lr, warmup): 1e-4 0.135, 1e-9 0.163 (the median pruner's two startup trials,
    # complete), 1e-9 0.175 (pruned), 1e-4 0.018 (learns: must not be pruned, since every pruned trial must be 1e-9);
    # seed 0 took six trials to draw the same: h L h h h L
    args = ["-m", "search=optuna", "hydra/launcher=joblib", "search.n_trials=4", "search.seed=56", *L3_SMALL, *HOPELESS, no_stop]
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    study = study_of(tmp_path)
    states = [t.state for t in study.trials]
    assert len(study.trials) == 4
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert pruned and complete, states
    assert max(t.user_attrs["steps"] for t in pruned) < min(t.user_attrs["steps"] for t in complete)
    assert all(t.params["optim.lr"] == 1e-9 for t in pruned)

    client, parents, children = mlflow_runs(tmp_path)
    assert len(parents) == 1 and len(children) == 4
    by_trial = {int(r.data.tags["optuna.trial"]): r for r in children}
    for trial in pruned:
        run = by_trial[trial.number]
        assert run.data.tags["state"] == "pruned" and run.info.status == "KILLED"
        assert int(run.data.tags["pruned_step"]) == trial.user_attrs["steps"] == run.data.metrics["optimizer_steps"]
    for trial in complete:
        assert by_trial[trial.number].data.tags["state"] == "finished"
    # the jobs ran in joblib's worker processes, not in the sweeper: the trial crossed processes
    sweeper_pid = study.trials[0].system_attrs["sweep:owner"]["pid"]
    assert all(int(r.data.tags["process"].rsplit(":", 1)[1]) != sweeper_pid for r in children)
    assert {"search/best.yaml", "search/history.html"} <= {a.path for a in client.list_artifacts(parents[0].info.run_id, "search")}

    # best.yaml reproduces the best trial as a single run
    best = study.best_trial
    folder = tmp_path / "outputs" / "optuna" / study.study_name
    shown = run_cli("--config-dir", str(folder), "experiment=best", "--cfg", "job", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    import yaml

    config = yaml.safe_load(shown.stdout)
    assert config["optim"]["lr"] == pytest.approx(best.params["optim.lr"])
    assert config["optim"]["warmup_ratio"] == pytest.approx(best.params["optim.warmup_ratio"])
    assert config["model"]["name"] == "minilm_l3" and config["task"]["train_size"] == 192 and config["trainer"]["max_epochs"] == 2
    assert "trial" not in config and not is_search(config.get("search"))  # only the keys every job has (search.reuse)


def test_kill_mid_trial_then_resume(tmp_path, cache_dir):
    import optuna

    # a budget of 3: one trial complete and one killed before the kill, and one trial after the victim, so that a kill
    # that lands just after the polled trial finished still finds the next one running (see below). One epoch: 12 steps
    # of MiniLM-L3 (seconds) are far longer than the poll's half second, and nothing here needs more training
    one_epoch = [arg for arg in L3_SMALL if not arg.startswith("trainer.max_epochs=")] + ["trainer.max_epochs=1"]
    args = ["-m", "search=optuna", "search.n_trials=3", *one_epoch]
    command = [sys.executable, "-m", "sweep.run", *args, f"paths.cache_dir={cache_dir}"]
    log = tmp_path / "search.err"  # a file, not a pipe: nobody reads it while the search runs
    with log.open("w") as err:
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    deadline, victim = time.time() + 300, None
    while time.time() < deadline and victim is None:
        time.sleep(0.5)
        # a search that died before its first trial fails here at once, with its error, not after the deadline
        assert process.poll() is None, f"the search ended (exit {process.returncode}) before a trial was caught:\n{log.read_text()[-3000:]}"
        try:
            study = study_of(tmp_path)
        except (ValueError, Exception):
            continue
        running = [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING and "mlflow_run_id" in t.user_attrs]
        if running and any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
            victim = running[0].number
    assert victim is not None, "no trial was ever running"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # the trial polled as running may have finished between the poll and the kill (seen on a loaded machine): the
    # victim is the trial the storage says was running, with its MLflow run, when the process died
    at_kill = [
        t.number for t in study_of(tmp_path).trials if t.state == optuna.trial.TrialState.RUNNING and "mlflow_run_id" in t.user_attrs
    ]
    if victim not in at_kill:
        assert at_kill, "the kill came between two trials: none was running"
        victim = at_kill[0]
    _, parents, children = mlflow_runs(tmp_path)
    assert parents[0].info.status == "RUNNING"  # nobody could end it...

    # ...until the next start of anything in this store: a single run repairs what the dead process left
    single = run_cli("model=tiny_bert", "task.train_size=32", "task.val_size=16", "task.test_size=16", cwd=tmp_path, cache=cache_dir)
    assert single.returncode == 0, single.stderr[-3000:]
    _, parents, children = mlflow_runs(tmp_path)
    (parent,) = [p for p in parents if p.data.tags.get("sweep.kind") == "optuna"]
    assert (parent.info.status, parent.data.tags["state"]) == ("FAILED", "failed")
    assert not [r for r in children if r.info.status == "RUNNING"]

    result = run_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    study = study_of(tmp_path)
    finished = [t for t in counted(study) if t.state.is_finished()]
    assert len(finished) == 3 and len({t.number for t in study.trials}) == len(study.trials)
    killed = study.trials[victim]
    assert killed.state == optuna.trial.TrialState.FAIL and killed not in counted(study)
    assert killed.user_attrs["error"] == "its worker died; the trial returns to the budget"
    _, parents, children = mlflow_runs(tmp_path)
    parents = [p for p in parents if p.data.tags.get("sweep.kind") == "optuna"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"  # the resumed sweep reopened the study's parent
    assert not [r for r in children if r.info.status == "RUNNING"]
    assert {r.data.tags["state"] for r in children if int(r.data.tags["optuna.trial"]) == victim} == {"failed"}
    assert len([r for r in children if r.data.tags["state"] in ("finished", "pruned")]) == 3


def test_two_workers_share_one_journal_study(tmp_path, cache_dir):
    import optuna

    args = [
        "-m",
        "search=optuna",
        "search.n_trials=4",
        "search.storage=journal:outputs/study.log",
        "model=tiny_bert",  # the journal's sharing is under test, not the model: the tiny one keeps the test short
        "task.train_size=128",
        "task.val_size=32",
        "task.test_size=32",
        "optim.batch_size=16",
        "trainer.max_epochs=2",
    ]
    command = [sys.executable, "-m", "sweep.run", *args, f"paths.cache_dir={cache_dir}"]
    workers = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    study = study_of(tmp_path, "journal:outputs/study.log")
    assert len(study.trials) == 4 and len(counted(study)) == 4
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in study.trials)
    # which worker took how many depends on timing; that both do is tested deterministically in test_signals_cli.py
    assert {t.system_attrs["sweep:owner"]["pid"] for t in study.trials} <= {worker.pid for worker in workers}
    _, parents, children = mlflow_runs(tmp_path)
    assert len(parents) == 1 and len(children) == 4


def test_failures_are_recorded_and_the_search_goes_on(tmp_path, cache_dir):
    import optuna

    # tiny_bert has hidden size 32: 3 attention heads cannot build (raises); lr 1e30 makes the loss NaN
    args = [
        "-m",
        "search=optuna",
        "model=tiny_bert",
        "task.train_size=64",
        "task.val_size=32",
        "task.test_size=32",
        "trainer.max_epochs=2",
        "search.sampler=grid",
        "search.n_trials=6",
        "search.max_failure_rate=1.0",
        "search.space.optim.warmup_ratio=choice(0.1)",
        "search.space.optim.lr=choice(1e-3,3e-3,1e30)",
        "search.space.model.config_overrides.num_attention_heads=choice(2,3)",
    ]
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    study = study_of(tmp_path)
    assert len(study.trials) == 6
    by_params = {(t.params["optim.lr"], t.params["model.config_overrides.num_attention_heads"]): t for t in study.trials}
    nan = by_params[(1e30, 2)]
    assert nan.state == optuna.trial.TrialState.FAIL and "loss is nan" in nan.user_attrs["error"].lower()
    for lr in (1e-3, 3e-3, 1e30):
        raised = by_params[(lr, 3)]
        assert (
            raised.state == optuna.trial.TrialState.FAIL and "not a multiple of the number of attention heads" in raised.user_attrs["error"]
        )
    assert {by_params[(lr, 2)].state for lr in (1e-3, 3e-3)} == {optuna.trial.TrialState.COMPLETE}
    _, (parent,), children = mlflow_runs(tmp_path)
    failed = [r for r in children if r.data.tags["state"] == "failed"]
    assert len(failed) == 4 and all(r.info.status == "FAILED" and r.data.tags["error"] for r in failed)
    # why they failed: each as it fails, then the distinct reasons with counts, also on the parent's page
    said = result.stdout + result.stderr
    heads = "model.source=random:bert: cannot load or build a model from it: The hidden size (32) is not a multiple"
    assert len(re.findall(rf"trial \d failed: {re.escape(heads)}", said)) == 3, said[-3000:]
    assert re.search(r"trial \d failed: FloatingPointError: training loss is nan", said)
    reasons = f"4 trial(s) failed, by reason:\n  3 x {heads}"
    assert reasons in result.stdout and reasons in parent.data.tags["mlflow.note.content"]


def test_too_many_failures_stop_the_search(tmp_path, cache_dir):
    args = [
        "-m",
        "search=optuna",
        "model=tiny_bert",
        "task.train_size=64",
        "task.val_size=32",
        "task.test_size=32",
        "trainer.max_epochs=2",
        "search.n_trials=8",
        "search.space.optim.lr=choice(1e30)",
        "search.max_failure_rate=0.5",
    ]
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 1
    assert "search.max_failure_rate=0.5 exceeded: 3 of 3 finished trials failed" in result.stderr
    assert len(study_of(tmp_path).trials) == 3


def test_multi_objective_lists_the_pareto_front(tmp_path, cache_dir):
    args = [
        "-m",
        "search=optuna",
        "model=tiny_bert",
        "task.train_size=64",
        "task.val_size=32",
        "task.test_size=32",
        "search.n_trials=5",
        "search.space.strategy=choice(full,lora,feature)",
        "search.sampler=nsgaii",
        # val/f1 second: not the monitored metric, so its value is the last one logged
        "search.metrics=[params_trainable,val/f1]",
        "search.directions=[minimize,maximize]",
    ]
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    front = [line for line in result.stdout.splitlines() if line.startswith("Pareto front: trial")]
    study = study_of(tmp_path)
    assert len(front) == len(study.best_trials) >= 1
    assert "params_trainable=" in front[0] and "val/f1=" in front[0]
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)


def test_bad_search_input_exits_and_touches_nothing(tmp_path):
    for args, message in [
        (["search.sampler=bayes"], "search.sampler=bayes: unknown name"),
        (
            ["search.storage=postgresql://sweep:hunter2@127.0.0.1:9/optuna"],
            "search.storage=postgresql://sweep:***@127.0.0.1:9/optuna: cannot connect",
        ),
        (["search.metrics=[val/acc,val/f1]", "search.directions=[maximize]"], "1 direction(s) for 2 metric(s)"),
        # a searched typo: before, every trial failed at its composition and the search exited 1
        (
            ["optim.lrr=interval(1e-5,1e-3)"],
            "error: optim.lrr: is searched, but the job's config has no key optim.lrr: did you mean optim.lr?",
        ),
        (
            ["search.space.strategy=choice(full,lora)", "search.strategy_spaces.lora.strategy.rank=choice(4,8)"],
            "error: search.strategy_spaces.lora.strategy.rank: is searched, but the job's config (strategy=lora) has no key strategy.rank",
        ),
    ]:
        result = run_cli("-m", "search=optuna", *args, cwd=tmp_path, timeout=120)
        assert result.returncode == 2, result.stderr[-2000:]
        assert message in result.stderr and "hunter2" not in result.stderr + result.stdout
    assert not (tmp_path / "outputs" / "optuna").exists()
    assert not (tmp_path / "outputs" / "mlflow.db").exists()


def test_a_search_whose_mlflow_server_does_not_answer_stops_at_once(tmp_path):
    """Before: the sweeper opened the study, then MLflow retried for four minutes and ended in a traceback."""
    started = time.monotonic()
    result = run_cli("-m", "search=optuna", "model=tiny_bert", "tracking.uri=http://127.0.0.1:1", cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    line = "error: tracking.uri=http://127.0.0.1:1: the MLflow server does not answer ([Errno 111] Connection refused)"
    assert result.stderr.strip() == line
    assert time.monotonic() - started < 30 and not (tmp_path / "outputs").exists()
