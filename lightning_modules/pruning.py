"""Report the monitored metric to an Optuna trial at every validation; stop the trial if pruned.

Why not ``optuna_integration.PyTorchLightningPruningCallback``: it reports at epoch granularity
(``step=current_epoch``), so several validations in one epoch (``val_check_interval < 1``) could
never prune early, and it subclasses the ``lightning`` package's Callback, not ``pytorch_lightning``'s.
Here the step is the optimizer step, and the trial is any ``optuna.trial.Trial``: rebuilt from a shared
storage, it works the same in-process, in joblib workers and on cluster nodes.
"""

from __future__ import annotations

import optuna
import pytorch_lightning as pl


class OptunaPruning(pl.Callback):
    def __init__(self, trial: optuna.trial.Trial, monitor: str):
        self.trial, self.monitor = trial, monitor
        self.pruned_step: int | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        step = trainer.global_step
        self.trial.report(value, step=step)
        if self.trial.should_prune():
            self.pruned_step = step
            raise optuna.TrialPruned(f"pruned at step {step} ({self.monitor}={value:.4f})")
