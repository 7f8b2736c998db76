"""One job, start to end, in this order: validate the config (sweep/pipeline/validate.py), find its tracking
store and trial, resolve its sources (the model, a kept run, the teacher: sweep/pipeline/sources.py), build it
(data, teacher, model + strategy, loaders: sweep/pipeline/build.py), then open its MLflow run, train
(sweep/pipeline/train.py), record, and return the outcome.

Order matters: everything that can fail on bad input (config, data, model, store) happens before the
run is opened, so a single run's bad value leaves nothing half-written (exit 2). In a sweep every job
ends as a run, also one that failed before its run could open (a bad value of that job only, a model
its strategy cannot wrap): the comparison table then has a row for every job. Once the run is open it
always ends with a final state: finished, failed (with the error and traceback), pruned (with the
step) or interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import logging
import os
import socket
import traceback

from omegaconf import DictConfig, OmegaConf

from sweep.config.errors import ConfigError
from sweep.config.schema import JobConfig, job_container
from sweep.distributed.slurm_jobs import current_job_id
from sweep.pipeline.context import JobContext
from sweep.pipeline.outcome import JobOutcome, is_reported
from sweep.pipeline.validate import recorded_config, validate
from sweep.runtime.signals import Interrupted

log = logging.getLogger("sweep")


def run_name(model: str, strategy: str, custom: str | None, context: JobContext) -> str:
    name = custom or f"{model}-{strategy}"
    return f"{name}-{context.job_number}" if context.job_number is not None else name


def base_tags(model: str, strategy: str, task: str, source: str, context: JobContext) -> dict[str, str]:
    tags = {"model": model, "strategy": strategy, "task": task, "model.source": source, "process": f"{socket.gethostname()}:{os.getpid()}"}
    if context.job_number is not None:
        tags["sweep.job"] = str(context.job_number)
    if current_job_id() is not None:
        tags["slurm.job"] = current_job_id()
    return tags


def tags_of(job: JobConfig, context: JobContext, binding) -> dict[str, str]:
    root = job.root
    tags = base_tags(root.model.name, job.strategy.name, root.task.name, root.model.source, context)
    if binding is not None:
        tags.update({"optuna.study": binding.study_name, "optuna.trial": str(binding.number)})
        if binding.study_id:  # which study of that name (a name can be deleted and made again)
            tags["optuna.study_id"] = binding.study_id
    if job.teacher is not None:  # what the student learnt from (params hold distill.* as configured)
        tags["distill.teacher"] = job.teacher
    return tags


def state_of(error: BaseException) -> str:
    return "interrupted" if isinstance(error, Interrupted) else "failed"


def describe(error: BaseException, output_dir: str | None = None) -> str:
    """The run's ``error`` tag; a full disk in one line: what could not be written, the output folder's free space."""
    from sweep.config.paths import describe_disk_full

    if isinstance(error, (ConfigError, Interrupted)):
        return str(error)
    return describe_disk_full(error, output_dir) or f"{type(error).__name__}: {error}"


def output_dir_of(cfg: DictConfig | None) -> str | None:
    try:
        output_dir = OmegaConf.select(cfg, "paths.output_dir", default=None) if cfg is not None else None
    except Exception:  # an interpolation that cannot resolve
        return None
    return None if output_dir is None else str(output_dir)


def failure_line(error: BaseException, cfg: DictConfig | None = None) -> str:
    """What a failed single run prints: its error in one line (the traceback is on its run, tag ``traceback``)."""
    text = describe(error, output_dir_of(cfg)).strip()
    return text.splitlines()[0] if text else type(error).__name__


def end_run(run, state: str, error: BaseException, output_dir: str) -> None:
    """End ``run`` with the job's error; a store that cannot record it (its disk is full too) is said in one
    line, not raised over the error itself: the run stays RUNNING until the next start ends it (orphans)."""
    try:
        run.finish(state, error=describe(error, output_dir), traceback=traceback.format_exc()[-4000:])
    except Exception as failure:
        log.warning("run %s: could not be ended as %s (%s); the next start ends it", run.run_id, state, failure_line(failure))


def quiet_log_files() -> None:
    """A log file that cannot be written (its disk is full, its mount gone) is said once, in one line, and
    dropped: Python's logging would print a traceback for every record after it (the console still logs)."""
    import functools
    import sys

    def failed(handler: logging.FileHandler, record: logging.LogRecord) -> None:
        logging.getLogger().removeHandler(handler)
        error = sys.exc_info()[1]
        why = getattr(error, "strerror", None) or error
        print(f"warning: the log file {handler.baseFilename} cannot be written ({why}): logging to the console only", file=sys.stderr)

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handleError = functools.partial(failed, handler)


def record_unopened(cfg: DictConfig, context: JobContext, error: BaseException) -> None:
    """A run for a job that failed before its own could open, from the raw config (which may not
    validate): the sweep's table gets its row, with the error. Best effort: the store may be the error."""
    from sweep.tracking.job_run import JobRun
    from sweep.tracking.store import client_and_experiment, tracking_uri

    def pick(key: str, default: str = "?") -> str:
        try:
            return str(OmegaConf.select(cfg, key, default=default))
        except Exception:  # an interpolation that cannot resolve
            return default

    try:
        config = job_container(cfg)
    except Exception:  # unresolvable: record it as written
        config = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]), resolve=False)
    try:
        output_dir = pick("paths.output_dir", "outputs")
        uri = tracking_uri(OmegaConf.select(cfg, "tracking.uri", default=None), output_dir)
        client, experiment_id = client_and_experiment(uri, pick("tracking.experiment", "sweep"), output_dir)
        model, strategy = pick("model.name"), pick("strategy.name")
        tags = base_tags(model, strategy, pick("task.name"), pick("model.source"), context)
        if OmegaConf.select(cfg, "trial.number", default=None) is not None:  # a search's trial: its row names it
            tags.update({"optuna.study": pick("trial.study_name"), "optuna.trial": pick("trial.number")})
        name = run_name(model, strategy, OmegaConf.select(cfg, "tracking.run_name", default=None), context)
        run = JobRun.open(client, experiment_id, name, tags, config, context.parent_run_id)
        run.finish(state_of(error), error=describe(error, output_dir), traceback=traceback.format_exc()[-4000:])
    except Exception as failure:
        from sweep.config.paths import disk_full

        if disk_full(failure) is None:
            log.warning("job %s: its failure could not be recorded in MLflow", context.job_number, exc_info=True)
        else:  # the store's disk is full too: its traceback says nothing more
            log.warning("job %s: its failure could not be recorded in MLflow: %s", context.job_number, failure_line(failure))


def run_job(cfg: DictConfig, context: JobContext | None = None) -> JobOutcome:
    """Run one job; raises ConfigError on bad input, re-raises other errors after recording them."""
    from sweep.distributed.ranks import is_rank_zero

    if not is_rank_zero():  # a DDP rank that SLURM or torchrun started: rank 0 records, this one trains beside it
        from sweep.pipeline.follower import follow

        return follow(cfg)
    context = context or JobContext.from_hydra()
    quiet_log_files()
    try:
        job, uri, binding, built = prepare(cfg, context.parent_run_id)
    except BaseException as error:
        # a single run's bad input records nothing; a store that does not answer cannot record (MLflow
        # would retry for minutes before the job could say so)
        store_down = isinstance(error, ConfigError) and error.key == "tracking.uri"
        if (context.multirun or not isinstance(error, ConfigError)) and not store_down:
            record_unopened(cfg, context, error)
        raise
    return train_and_record(job, uri, binding, built, cfg, context)


def prepare(cfg: DictConfig, parent_run_id: str | None = None):
    """Everything that can fail on bad input, before a run is opened: config, store, trial, sources, data, model.
    ``parent_run_id``: the sweep's, where a teacher named by model is pinned (sweep/pipeline/sources.py)."""
    from sweep.runtime.console import quiet_libraries
    from sweep.tracking.store import check_reachable, tracking_uri

    job = validate(cfg)
    root = job.root
    uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
    check_reachable(uri)
    quiet_libraries()
    from sweep.pipeline.build import build
    from sweep.pipeline.sources import resolve_sources

    binding = None
    if root.trial is not None:
        from sweep.search.binding import bind_trial

        binding = bind_trial(root)
    sources = resolve_sources(job, uri, parent_run_id)  # the model, a kept run, the teacher: looked up in the store, nothing loaded
    return job, uri, binding, build(job, sources)


def train_and_record(job: JobConfig, uri: str, binding, built, cfg: DictConfig, context: JobContext) -> JobOutcome:
    from sweep.config.schema import search_config
    from sweep.pipeline.cost import log_estimate
    from sweep.pipeline.train import train
    from sweep.runtime.hardware import resolve_precision
    from sweep.tracking.job_run import JobRun
    from sweep.tracking.kept_models import should_save, try_save_model
    from sweep.tracking.orphans import close_orphans
    from sweep.tracking.reuse import KEY_TAG, log_outcome, wait_for_answer
    from sweep.tracking.store import client_and_experiment

    root = job.root
    name = run_name(root.model.name, job.strategy.name, root.tracking.run_name, context)
    client, experiment_id = client_and_experiment(uri, root.tracking.experiment, root.paths.output_dir, root.paths.cache_dir)
    if not context.multirun:  # a sweep repairs once, at its start
        close_orphans(client, experiment_id)
    tags = tags_of(job, context, binding)
    if built.sources.teacher_run is not None:  # a model name: the run it found, for good
        tags["distill.teacher_run"] = built.sources.teacher_run
    config = recorded_config(cfg, job)
    tags[KEY_TAG] = job_key(job, config, built)  # every run, so that work done before reuse was asked for answers too
    run = JobRun.open(client, experiment_id, name, tags, config, context.parent_run_id)
    if built.sources.teacher_run is not None:  # the pin as a param too: runs compare on it in the UI
        client.log_param(run.run_id, "distill.teacher_run", built.sources.teacher_run)
    monitor = root.trainer.monitor
    pruning = binding.pruning_callback(monitor) if binding is not None and binding.prunes else None
    try:  # from here on the run always ends: finished, pruned, failed or interrupted
        if binding is not None:  # lets a sweeper find and close the run if this process dies
            binding.trial.set_user_attr("mlflow_run_id", run.run_id)
        run.log_data(root.task, built.sizes)
        run.log_metrics(
            {
                "params_total": built.total_params,
                "params_trainable": built.trainable_params,
                "params_trainable_share": built.trainable_share,
                **{f"data_{split}_rows": size for split, size in built.sizes.items()},
                **{f"prepare_{key}": value for key, value in built.timings.items()},
                **built.teacher_metrics,
            }
        )
        log.info(
            "job %s: %s x %s on %s; %d train / %d val / %d test rows; trainable %s of %s parameters (%.2f%%)",
            context.job_number if context.job_number is not None else "-",
            root.model.name, job.strategy.name, root.task.name, built.sizes["train"], built.sizes["val"], built.sizes["test"],
            f"{built.trainable_params:,}", f"{built.total_params:,}", 100 * built.trainable_share,
        )  # fmt: skip
        if search_config(root.search).reuse:  # a finished run of the same key answers, or one in flight is waited for
            found = wait_for_answer(client, tags[KEY_TAG], run.run_id)
            if found is not None:
                return reused_outcome(client, run, *found, name, uri if not context.multirun else None)
        estimate = log_estimate(built, resolve_precision(root.trainer.precision, root.trainer.accelerator), root.trainer.accelerator)
        if estimate is not None:  # before training: a run stopped early still says what it would have cost
            run.log_metrics(estimate.metrics())
        result = train(built, tracking_uri=uri, run_id=run.run_id, callbacks=[pruning] if pruning else [])
        if estimate is not None and estimate.seconds > 0:
            result.metrics["estimate.measured_over_estimated"] = result.metrics["train_time_s"] / estimate.seconds
        result.metrics.update(run.log_examples(result.examples))
        run.log_metrics(result.metrics, step=result.steps)
        outcome = finished_outcome(result, built, run.run_id)
        log_outcome(client, run.run_id, outcome.value, outcome.metrics)
        if should_save(job, binding, outcome):  # tracking.save_model (sweep/tracking/kept_models.py)
            try_save_model(run, built, uri)
    except BaseException as error:
        if binding is not None and binding.is_pruned(error):
            try:
                run.log_metrics({"optimizer_steps": pruning.pruned_step}, step=pruning.pruned_step)
            finally:
                run.finish("pruned", pruned_step=pruning.pruned_step)
            log.info("result %s: %s", name, error)
            return JobOutcome("pruned", pruned_step=pruning.pruned_step, run_id=run.run_id, error=str(error))
        end_run(run, state_of(error), error, root.paths.output_dir)
        raise
    run.finish("finished", best_step=result.best_step, precision=result.precision)
    # the type's own test metrics; per label or sub-task (test/f1/<label>) they are in the run
    test = "  ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()) if k.startswith("test/") and k.count("/") == 1)
    log.info(
        "result %s: best %s=%.4f  %s  trainable=%.2f%%  train %.1fs  %s  run %s",
        name, monitor, result.monitored, test, 100 * built.trainable_share, result.metrics["train_time_s"], result.precision, run.run_id,
    )  # fmt: skip
    if not context.multirun:  # a sweep prints this once, under its comparison table
        from sweep.tracking.store import ui_hint

        print(ui_hint(uri), flush=True)
    return outcome


def job_key(job: JobConfig, config: dict, built) -> str:
    """The job's reuse key: its configuration, data and code (sweep/pipeline/fingerprint.py)."""
    from sweep.pipeline.fingerprint import code_digest, configuration_digest, reuse_key
    from sweep.zoo.loader import source_fingerprint

    root = job.root
    return reuse_key(configuration_digest(config, source_fingerprint(root.model, root.seed)), built.data_digest, code_digest())


def reused_outcome(client, run, source, record: dict, name: str, hint_uri: str | None) -> JobOutcome:
    """The job answered from ``source``, a finished run of its key (sweep/tracking/reuse.py); ``hint_uri``: a single
    run's store, whose UI command it prints."""
    from sweep.tracking.reuse import answer
    from sweep.tracking.store import ui_hint

    original = answer(client, run, source, record)  # a trial is tagged by its sweeper, from the outcome (worker.count_reuse)
    value, run_id = record["value"], run.run_id
    log.info("result %s: reused from run %s (the same configuration, data and code): %s  run %s", name, original, value, run_id)
    if hint_uri is not None:
        print(ui_hint(hint_uri), flush=True)
    return JobOutcome("finished", value=value, metrics=record["metrics"], run_id=run_id, reused_from=original)


def finished_outcome(result, built, run_id: str) -> JobOutcome:
    # validation metrics at the best step: the weights that were kept and tested are that step's
    reported = {
        **result.last,
        **result.at_best,
        **result.metrics,
        "params_total": built.total_params,
        "params_trainable": built.trainable_params,
        "params_trainable_share": built.trainable_share,
    }
    sub_tasks = built.task_names or []
    metrics = {k: float(v) for k, v in reported.items() if is_reported(k, sub_tasks)}
    return JobOutcome("finished", value=result.monitored, metrics=metrics, run_id=run_id)
