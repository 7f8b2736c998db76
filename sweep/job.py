"""One job, start to end: validate, build, open its MLflow run, train, record, return the outcome.

Order matters: everything that can fail on bad input (config, data, model, store) happens before the
run is opened, so a bad value leaves nothing half-written. Once the run is open it always ends with a
final state: finished, failed (with the error message) or pruned (with the step).
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from dataclasses import dataclass

from omegaconf import DictConfig

from sweep.errors import ConfigError
from sweep.outcome import KNOWN_METRICS, JobOutcome
from sweep.schema import JobConfig, job_container, validate

log = logging.getLogger("sweep")


@dataclass
class JobContext:
    """Where this job sits: a single run, or one job of a sweep (its parent run and number)."""

    multirun: bool
    parent_run_id: str | None
    job_number: int | None

    @classmethod
    def from_hydra(cls) -> JobContext:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from sweep.tracking.sweep_callback import read_parent_run_id

        if not HydraConfig.initialized():
            return cls(False, None, None)
        hydra_cfg = HydraConfig.get()
        if hydra_cfg.mode != RunMode.MULTIRUN:
            return cls(False, None, None)
        return cls(True, read_parent_run_id(hydra_cfg.sweep.dir), hydra_cfg.job.get("num"))


def run_name(job: JobConfig, context: JobContext) -> str:
    root = job.root
    name = root.tracking.run_name or f"{root.model.name}-{job.strategy.name}"
    return f"{name}-{context.job_number}" if context.job_number is not None else name


def tags_of(job: JobConfig, context: JobContext, binding) -> dict[str, str]:
    root = job.root
    tags = {
        "model": root.model.name,
        "strategy": job.strategy.name,
        "task": root.task.name,
        "model.source": root.model.source,
        "process": f"{socket.gethostname()}:{os.getpid()}",
    }
    if context.job_number is not None:
        tags["sweep.job"] = str(context.job_number)
    if binding is not None:
        tags.update({"optuna.study": binding.study_name, "optuna.trial": str(binding.number)})
    return tags


def run_job(cfg: DictConfig, context: JobContext | None = None) -> JobOutcome:
    """Run one job; raises ConfigError on bad input, re-raises training errors after recording them."""
    from sweep.console import quiet_libraries
    from sweep.tracking.store import check_reachable, tracking_uri

    context = context or JobContext.from_hydra()
    job = validate(cfg)
    root = job.root
    uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
    check_reachable(uri)
    quiet_libraries()

    from sweep.build import build
    from sweep.tracking.job_run import JobRun
    from sweep.tracking.store import client_and_experiment

    binding = None
    if root.trial is not None:
        from sweep.search.binding import bind_trial

        binding = bind_trial(root)
    config = job_container(cfg)

    def open_run() -> JobRun:
        client, experiment_id = client_and_experiment(uri, root.tracking.experiment, root.paths.output_dir)
        run = JobRun.open(client, experiment_id, run_name(job, context), tags_of(job, context, binding), config, context.parent_run_id)
        if binding is not None:  # lets a sweeper find and close the run if this process dies
            try:
                binding.trial.set_user_attr("mlflow_run_id", run.run_id)
            except BaseException as error:
                run.finish("failed", error=f"{type(error).__name__}: {error}")
                raise
        return run

    try:
        built = build(job)
    except ConfigError as error:
        if context.multirun:  # one bad combination of a sweep: recorded as failed, the sweep goes on
            open_run().finish("failed", error=str(error))
        raise

    run = open_run()
    from sweep.train import train

    monitor = root.trainer.monitor
    pruning = binding.pruning_callback(monitor) if binding is not None and binding.prunes else None
    try:  # from here on the run always ends: finished, pruned or failed
        run.log_metrics(
            {
                "params_total": built.total_params,
                "params_trainable": built.trainable_params,
                "params_trainable_share": built.trainable_share,
                **{f"data_{name}_rows": size for name, size in built.sizes.items()},
                **{f"prepare_{key}": value for key, value in built.timings.items()},
            }
        )
        log.info(
            "job %s: %s x %s on %s; %d train / %d val / %d test rows; trainable %s of %s parameters (%.2f%%)",
            context.job_number if context.job_number is not None else "-",
            root.model.name,
            job.strategy.name,
            root.task.name,
            built.sizes["train"],
            built.sizes["val"],
            built.sizes["test"],
            f"{built.trainable_params:,}",
            f"{built.total_params:,}",
            100 * built.trainable_share,
        )
        result = train(built, tracking_uri=uri, run_id=run.run_id, callbacks=[pruning] if pruning else [])
        run.log_metrics(result.metrics, step=result.steps)
    except BaseException as error:
        if binding is not None and binding.is_pruned(error):
            try:
                run.log_metrics({"optimizer_steps": pruning.pruned_step}, step=pruning.pruned_step)
            finally:
                run.finish("pruned", pruned_step=pruning.pruned_step)
            log.info("result %s: %s", run_name(job, context), error)
            return JobOutcome("pruned", pruned_step=pruning.pruned_step, run_id=run.run_id, error=str(error))
        run.finish("failed", error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc()[-4000:])
        raise
    run.finish("finished", best_step=result.best_step)
    test = "  ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()) if k.startswith("test/"))
    log.info(
        "result %s: best %s=%.4f  %s  trainable=%.2f%%  train %.1fs  run %s",
        run_name(job, context),
        monitor,
        result.monitored,
        test,
        100 * built.trainable_share,
        result.metrics["train_time_s"],
        run.run_id,
    )
    if not context.multirun:  # a sweep prints this once, under its comparison table
        from sweep.tracking.store import ui_hint

        print(ui_hint(uri), flush=True)
    reported = {
        **result.last,
        **result.metrics,
        "params_total": built.total_params,
        "params_trainable": built.trainable_params,
        "params_trainable_share": built.trainable_share,
    }
    return JobOutcome(
        "finished", value=result.monitored, metrics={k: float(v) for k, v in reported.items() if k in KNOWN_METRICS}, run_id=run.run_id
    )
