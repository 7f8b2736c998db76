"""AdaLoRA's rank budget schedule as a Lightning callback (sweep/strategies/adalora.py provides it to the job).

A module of its own so that importing the strategies (config checks, ``--help``) does not import Lightning.
"""

from __future__ import annotations

import pytorch_lightning as pl


class BudgetSchedule(pl.Callback):
    """Calls PEFT's ``update_and_allocate`` after each optimizer step; masks the pruned ranks before evaluating."""

    def __init__(self, tinit: float, tfinal: float):
        self.tinit, self.tfinal = tinit, tfinal
        self.scheduled = False  # a budget phase exists (not a run of a handful of steps)
        self.last_step = 0

    @staticmethod
    def backbone(pl_module):
        return pl_module.model.backbone

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        config = self.backbone(pl_module).peft_config["default"]
        total = int(trainer.estimated_stepping_batches)
        config.total_step, config.tinit, config.tfinal = total, int(self.tinit * total), int(self.tfinal * total)
        self.scheduled = config.tinit < config.total_step - config.tfinal
        self.last_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.scheduled and trainer.global_step > self.last_step:  # an optimizer step was taken (not an accumulation)
            self.last_step = trainer.global_step
            self.backbone(pl_module).base_model.update_and_allocate(trainer.global_step)

    def mask(self, pl_module) -> None:
        """The pruned ranks exactly zero (an optimizer step after the last pruning may have moved them)."""
        backbone = self.backbone(pl_module)
        config = getattr(backbone, "peft_config", {}).get("default")
        if config is not None and config.rank_pattern:
            backbone.base_model.rankallocator.mask_using_rank_pattern(backbone.base_model.model, config.rank_pattern)

    def on_validation_start(self, trainer: pl.Trainer, pl_module) -> None:
        self.mask(pl_module)

    def on_test_start(self, trainer: pl.Trainer, pl_module) -> None:
        self.mask(pl_module)
