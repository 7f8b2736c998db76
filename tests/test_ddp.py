"""DDP jobs of several processes (gloo on CPU): rank 0 records, the other ranks train beside it.

Real subprocesses: the CLI as a user runs it, Lightning's DDP with our follower ranks, SLURM tasks
simulated by their environment. A rank that stopped at another step than the others would hang its
job: the timeouts turn that into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import run_cli
from tests.test_search_cli import mlflow_runs, study_of

# tiny_bert, 64 training rows in batches of 8: 8 batches an epoch, 4 on each of 2 ranks
DDP = ["trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp"]
TINY = ["model=tiny_bert", "task.train_size=64", "task.val_size=32", "task.test_size=32", "optim.batch_size=8"]


OUTPUT = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}


def no_follower_left(cwd) -> bool:
    import psutil

    for process in psutil.process_iter(["cmdline", "cwd"]):
        try:
            if "sweep.pipeline.follower" in (process.info["cmdline"] or []) and process.info["cwd"] == str(cwd):
                return False
        except psutil.Error:
            continue
    return True


def job_folders(cwd) -> list:
    """Hydra's job folders: outputs/runs/<date>/<time> of single runs, outputs/multirun/<date>/<time>/<job> of sweeps."""
    outputs = cwd / "outputs"
    return sorted(p for p in [*outputs.glob("runs/*/*"), *outputs.glob("multirun/*/*/*")] if p.is_dir())


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_ddp_trial_is_one_optuna_trial_and_one_mlflow_run_and_a_pruned_one_stops_on_every_rank(tmp_path, cache_dir):
    import optuna

    # the grid visits lr 3e-3 first (it learns), then 1e-9 (it cannot): the median pruner, allowed from
    # the first completed trial and the first validation, stops the second at its first validation
    hopeless = [
        "search.space.optim.lr=choice(1e-9,3e-3)", "search.space.optim.warmup_ratio=choice(0.0)", "search.sampler=grid",
        "search.metrics=[val/loss]", "search.directions=[minimize]", "+search.pruner_options.n_startup_trials=1",
        "+search.pruner_options.n_warmup_steps=0", "trainer.val_check_interval=0.25", "trainer.early_stopping_patience=null",
    ]  # fmt: skip
    # 128 rows: 16 batches, 8 per rank, validated at steps 2, 4, 6 and 8
    args = ["-m", "search=optuna", "search.n_trials=2", *TINY, "task.train_size=128", *DDP, *hopeless]
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir, timeout=360)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "still runs" not in result.stderr and "DDP rank" not in result.stderr  # every rank ended with rank 0

    study = study_of(tmp_path)
    assert len(study.trials) == 2  # the budget, not one trial per rank
    complete, pruned = study.trials
    assert complete.state == optuna.trial.TrialState.COMPLETE and complete.params["optim.lr"] == 3e-3
    assert pruned.state == optuna.trial.TrialState.PRUNED and pruned.params["optim.lr"] == 1e-9
    assert pruned.user_attrs["steps"] == 2  # its first validation: both ranks stopped there
    assert complete.user_attrs["steps"] == 8  # half of the 16 batches: each rank trained its own share

    _, parents, children = mlflow_runs(tmp_path)
    assert len(parents) == 1 and len(children) == 2  # one run per trial, none from rank 1
    by_trial = {int(run.data.tags["optuna.trial"]): run for run in children}
    finished, killed = by_trial[complete.number], by_trial[pruned.number]
    assert finished.info.status == "FINISHED" and "val/acc" in finished.data.metrics and "test/acc" in finished.data.metrics
    assert finished.data.metrics["world_size"] == 2  # a process group of 2 formed: rank 1 joined every collective
    assert finished.data.metrics["optimizer_steps"] == 8
    assert killed.info.status == "KILLED" and killed.data.tags["state"] == "pruned" and killed.data.tags["pruned_step"] == "2"
    assert killed.data.tags["mlflow.runName"] == f"tiny_bert-full-{pruned.number}"

    folders = job_folders(tmp_path)
    assert [folder.name for folder in folders] == ["0", "1"]  # one job folder per trial; no rank's own
    assert no_follower_left(tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_single_ddp_run_keeps_one_model_that_evaluates_alike_on_one_and_two_processes(tmp_path, cache_dir):
    trained = run_cli(*TINY, *DDP, cwd=tmp_path, cache=cache_dir, timeout=240)
    assert trained.returncode == 0, trained.stderr[-3000:]
    client, runs, _ = mlflow_runs(tmp_path)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    run = runs[0]
    assert run.data.metrics["world_size"] == 2 and run.data.metrics["optimizer_steps"] == 4
    assert "model" in {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
    assert len(job_folders(tmp_path)) == 1

    # the kept model, evaluated by 2 processes and by 1: each DDP rank validates and tests the whole split
    source = f"model.source=runs:/{run.info.run_id}/model"
    metrics = {}
    for devices in ("2", "1"):
        args = ["model=saved", source, "trainer.fit=false", *TINY[1:], "trainer.accelerator=cpu", f"trainer.devices={devices}"]
        evaluated = run_cli(*args, cwd=tmp_path, cache=cache_dir)
        assert evaluated.returncode == 0, evaluated.stderr[-3000:]
        _, runs, _ = mlflow_runs(tmp_path)
        newest = max(runs, key=lambda r: r.info.start_time)
        metrics[devices] = newest.data.metrics
    assert metrics["2"]["world_size"] == 2 and metrics["1"]["world_size"] == 1
    for key in ("val/acc", "val/f1", "test/acc", "test/f1"):
        assert metrics["2"][key] == metrics["1"][key], key
    for key in ("val/loss", "test/loss"):
        assert metrics["2"][key] == pytest.approx(metrics["1"][key], rel=1e-3), key
    assert no_follower_left(tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_every_strategy_trains_under_ddp(tmp_path, cache_dir):
    """One grid, a job per strategy (full: the tests above), each job two processes in turn in one sweeper."""
    strategies = ["partial", "lora", "feature", "prompt"]
    args = ["-m", f"strategy={','.join(strategies)}", *TINY, *DDP, "trainer.max_epochs=1", "tracking.save_model=never"]  # feature: 10
    result = run_cli(*args, cwd=tmp_path, cache=cache_dir, timeout=380)
    assert result.returncode == 0, result.stderr[-3000:]
    _, _, runs = mlflow_runs(tmp_path)
    assert sorted(r.data.tags["strategy"] for r in runs) == sorted(strategies)
    for run in runs:
        assert run.info.status == "FINISHED", run.data.tags.get("error")
        assert run.data.metrics["world_size"] == 2 and run.data.metrics["optimizer_steps"] == 4, run.data.tags["strategy"]
    assert len(job_folders(tmp_path)) == len(strategies) and no_follower_left(tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_slurm_tasks_share_one_job_rank_0_records_it(tmp_path, cache_dir):
    """What ``srun --ntasks=2`` (or submitit's tasks_per_node=2) does: the same command in two tasks,
    told apart by SLURM_PROCID; Lightning's SLURMEnvironment forms the group, rank 1 records nothing."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "1",
           "SLURM_NODEID": "0", "SLURM_JOB_ID": "4321", "SLURM_NODELIST": "localhost", "SLURM_JOB_NAME": "sweep",
           "MASTER_ADDR": "127.0.0.1"}  # fmt: skip
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "sweep.run", *TINY, *DDP, f"paths.cache_dir={cache_dir}", "hydra.run.dir=outputs/runs/slurm/4321"]
    tasks = [
        subprocess.Popen(command, cwd=tmp_path, env={**env, "SLURM_PROCID": rank, "SLURM_LOCALID": rank}, **OUTPUT) for rank in ("0", "1")
    ]
    outputs = [task.communicate(timeout=240)[0] for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    assert "result tiny_bert-full" in outputs[0] and "result" not in outputs[1]  # rank 1 trains quietly
    _, runs, _ = mlflow_runs(tmp_path)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert runs[0].data.metrics["world_size"] == 2 and runs[0].data.metrics["optimizer_steps"] == 4


@pytest.mark.parametrize("strategy", ["ddp_spawn", "fsdp"])
def test_a_strategy_whose_ranks_cannot_follow_is_refused(tmp_path, strategy):
    result = run_cli(*TINY, f"trainer.strategy={strategy}", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: trainer.strategy={strategy}: must be one of auto, ddp"), result.stderr
    assert not (tmp_path / "outputs" / "mlflow.db").exists()


def test_each_rank_draws_the_same_batches_and_keeps_its_share():
    import torch
    from torch.utils.data import DataLoader

    from sweep.data.images import BatchIndices
    from sweep.data.shards import sharded

    rows = list(range(70))  # 9 batches of 8: 4 per rank, the 9th dropped so both ranks step alike

    def loader():  # what every rank builds: the same seed
        return DataLoader(rows, batch_size=8, sampler=torch.utils.data.RandomSampler(rows, generator=torch.Generator().manual_seed(3)))

    whole = [batch.tolist() for batch in loader()]
    shares = [[batch.tolist() for batch in sharded(loader(), rank, 2)] for rank in (0, 1)]
    assert shares[0] == whole[0:8:2] and shares[1] == whole[1:8:2]
    assert len(sharded(loader(), 1, 2)) == 4

    # image batches: one item per batch, epochs go on (Lightning calls set_epoch on the sampler)
    class Keys(torch.utils.data.Dataset):  # hands back what the sampler drew: (epoch, row indices)
        def __len__(self):
            return 70

        def __getitem__(self, key):
            return key

    loader = sharded(DataLoader(Keys(), sampler=BatchIndices(70, 8, seed=1), batch_size=None, collate_fn=lambda key: key), 1, 2)
    loader.sampler.set_epoch(5)
    first_epoch = [epoch for epoch, _ in loader]
    assert first_epoch == [5] * 4 and len(loader) == 4


@pytest.mark.parametrize(
    "env, place",
    [
        ({}, (0, 1)),
        ({"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_PROCID": "1", "SLURM_JOB_NAME": "sweep"}, (1, 2)),
        # an salloc shell: not a task
        ({"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_PROCID": "1", "SLURM_JOB_NAME": "interactive"}, (0, 1)),
        ({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "TORCHELASTIC_RUN_ID": "x", "GROUP_RANK": "0"}, (3, 4)),
        ({"LOCAL_RANK": "1", "NODE_RANK": "0", "WORLD_SIZE": "2"}, (1, 2)),  # Lightning's launcher (ours)
        ({"LOCAL_RANK": "0", "NODE_RANK": "0", "WORLD_SIZE": "2"}, (0, 2)),
    ],
)
def test_the_rank_comes_from_the_launcher_s_environment(monkeypatch, env, place):
    from sweep.distributed.ranks import RANK_VARIABLES, place_from_env

    for name in (
        *RANK_VARIABLES,
        "SLURM_PROCID",
        "SLURM_NTASKS_PER_NODE",
        "SLURM_JOB_NAME",
        "NODE_RANK",
        "GROUP_RANK",
        "TORCHELASTIC_RUN_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found = place_from_env()
    assert (found.rank, found.world_size) == place
