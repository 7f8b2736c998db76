"""Train a pre-training model with a Lightning Trainer, logging every validation into its MLflow run.

The pieces of fine-tuning's loop (sweep/train.py) that carry over: the run logger that never ends the
run, the validation plan, best-weight restoring (the kept backbone is the best validation's), early
stopping, precision and peak memory.
"""

from __future__ import annotations

import time

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping

from lightning_modules.callbacks import RestoreBestWeights
from lightning_modules.language_modeling import LanguageModelingModule
from lightning_modules.schedule import Schedule
from lightning_modules.validation import ValidationPlan, ValidationSchedule
from sweep.console import interactive, quiet_libraries
from sweep.optim import param_groups
from sweep.train import PeakMemory, RunLogger, TrainResult, precision_arguments


def fit(prepared, tracking_uri: str | None = None, run_id: str | None = None) -> TrainResult:
    from sweep.hardware import resolve_precision

    quiet_libraries()
    root = prepared.root
    cfg, optim = root.trainer, root.optim
    module = LanguageModelingModule(
        prepared.model,
        param_groups=param_groups(prepared.model, optim),
        schedule=Schedule(optim.lr, optim.warmup_ratio, optim.scheduler),
        shift_labels=prepared.objective.shift_labels,
    )
    plan = ValidationPlan.for_budget(len(prepared.loaders["train"]), cfg.max_epochs, cfg.max_steps, cfg.val_check_interval)
    schedule, best, memory = ValidationSchedule(plan), RestoreBestWeights(cfg.monitor, cfg.mode, restore=cfg.restore_best), PeakMemory()
    callbacks = [schedule, best, memory]
    if cfg.early_stopping_patience is not None:
        callbacks.append(EarlyStopping(cfg.monitor, mode=cfg.mode, patience=cfg.early_stopping_patience))
    precision = resolve_precision(cfg.precision, cfg.accelerator)
    trainer = pl.Trainer(
        max_epochs=cfg.max_epochs,
        max_steps=cfg.max_steps,
        **schedule.trainer_arguments(),
        **precision_arguments(precision, cfg.accelerator),
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        gradient_clip_val=cfg.gradient_clip_val or None,
        log_every_n_steps=cfg.log_every_n_steps,
        logger=RunLogger(tracking_uri=tracking_uri, run_id=run_id) if run_id else False,
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=interactive(),
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(module, prepared.loaders["train"], prepared.loaders["val"])
    train_time = time.perf_counter() - start
    if best.best is None:
        raise RuntimeError(f"trainer.monitor={cfg.monitor} was never logged; logged: {', '.join(sorted(trainer.callback_metrics))}")
    metrics = {f"best_{cfg.monitor}": best.best, "train_time_s": train_time, "optimizer_steps": trainer.global_step}
    metrics.update({f"best_{key}": value for key, value in best.at_best.items() if key != cfg.monitor})
    metrics.update(memory.metrics())
    return TrainResult(best.best, best.best_step, trainer.global_step, precision, metrics=metrics, at_best=best.at_best)
