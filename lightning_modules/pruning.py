"""Report the monitored metric to an Optuna trial at every validation; stop the trial if pruned.

Why not ``optuna_integration.PyTorchLightningPruningCallback``: it reports at epoch granularity
(``step=current_epoch``), so several validations in one epoch (``val_check_interval < 1``) could
never prune early, and it subclasses the ``lightning`` package's Callback, not ``pytorch_lightning``'s.
Here the step is the run's progress in per mille of its training budget (lightning_modules/validation.py),
so trials of different lengths compare at equal progress; the trial is any ``optuna.trial.Trial``: rebuilt from a shared
storage, it works the same in-process, in joblib workers and on cluster nodes.
"""

from __future__ import annotations

import optuna
import pytorch_lightning as pl


class OptunaPruning(pl.Callback):
    """``trial``: the Optuna trial on the rank that owns it (rank 0); None on the other ranks of a DDP job,
    which follow rank 0's decision: every rank stops at the same step, or DDP's next collective waits forever."""

    def __init__(self, trial: optuna.trial.Trial | None, monitor: str):
        self.trial, self.monitor = trial, monitor
        self.pruned_step: int | None = None
        self.plan = None  # the run's ValidationPlan: reports on its per-mille scale, not in raw steps

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from lightning_modules.validation import ValidationSchedule

        self.plan = next((cb.plan for cb in trainer.callbacks if isinstance(cb, ValidationSchedule)), None)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # the validation metrics are the same on every rank (synced), so every rank returns here alike
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        step = trainer.global_step
        progress = self.plan.progress(step) if self.plan is not None else step
        pruned = False
        if self.trial is not None:
            self.trial.report(value, step=progress)
            finished = self.plan is not None and step >= self.plan.total_steps
            pruned = not finished and self.trial.should_prune()  # a trial that trained its whole budget completes
        if trainer.strategy.broadcast(pruned, src=0):  # one process: itself
            self.pruned_step = step
            raise optuna.TrialPruned(f"pruned at step {step}, {progress / 10:.0f}% of its budget ({self.monitor}={value:.4f})")
