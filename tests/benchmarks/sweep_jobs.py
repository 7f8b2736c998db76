"""What the suite's benchmarks of whole ``python -m sweep.run`` jobs share: one cache per suite run, a
store made before the clock starts, the job as a timed subprocess, and the numbers its MLflow run holds.
Not a test."""

from __future__ import annotations

import time
from pathlib import Path

from tests.benchmarks.common import cli, runs
from tests.benchmarks.suite import Settings

MODEL = "minilm_l3"


def shared_cache(settings: Settings) -> Path:
    """The cache all benchmarks of one suite run share (``settings.work`` is this benchmark's folder in it):
    the ONNX-to-Hugging-Face conversion of MiniLM-L3 happens once, not in any measured process."""
    return settings.work.parent / "cache"


def model_folder(cache: Path, model: str = MODEL) -> Path:
    """The packaged model as a Hugging Face folder (converted into ``cache`` once): what the Trainer loads."""
    from sweep.zoo.loader import resolve_source

    return resolve_source(f"asset:{model}", "model.source", cache)


def make_store(cwd: Path) -> None:
    """The sqlite MLflow store under ``cwd/outputs``, made as sweep makes it, before any measured job:
    a user's store exists after their first job, so creating it (seconds of migrations) is not a job's cost."""
    from sweep.tracking.store import client_and_experiment

    output_dir = cwd / "outputs"
    output_dir.mkdir(parents=True, exist_ok=True)
    client_and_experiment(f"sqlite:///{output_dir / 'mlflow.db'}", "sweep", str(output_dir))


def timed_cli(module: str, *args: str, cwd: Path, allowed: tuple[int, ...] = (0,)) -> float:
    """Wall seconds of ``python -m module args`` as its own process, start to exit."""
    start = time.perf_counter()
    cli(module, *args, cwd=cwd, allowed=allowed)
    return time.perf_counter() - start


def newest_run(cwd: Path):
    """The run the last job under ``cwd`` recorded (a single run, or the newest child of a sweep)."""
    return max(runs(cwd), key=lambda run: run.info.start_time)


def client(cwd: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{cwd / 'outputs' / 'mlflow.db'}")


def first_step_at(cwd: Path, run_id: str) -> float:
    """Unix time of a run's first optimizer step: the time MLflow stamped on its first ``train/loss_step``
    (logged right after that step when the job runs with ``trainer.log_every_n_steps=1``)."""
    history = client(cwd).get_metric_history(run_id, "train/loss_step")
    if not history:
        raise RuntimeError(f"run {run_id} logged no train/loss_step: was trainer.log_every_n_steps=1 passed?")
    return min(history, key=lambda metric: metric.step).timestamp / 1000
