"""AdaLoRA: LoRA in SVD form (P diag(E) Q) whose rank budget is moved, while training, to the layers that matter,
through PEFT (Zhang et al. 2023); the backbone is frozen. Starts at rank ``r`` per target and prunes singular
values by importance down to an average ``target_r``: no pruning for the first ``tinit`` share of the steps, a
cubic schedule down to the target until the last ``tfinal`` share, then the ranks stay fixed.

PEFT leaves the schedule to the training loop: ``update_and_allocate(step)`` after every optimizer step, and the
total step count known in advance. Our loop is Lightning's, and lightning_modules/ imports no strategy, so the
strategy gives the trainer a callback (``training_callbacks``, read by sweep/pipeline/train.py) that does both:
at the fit's start it reads the trainer's step count, after each optimizer step it moves the budget. Evaluated
rows see the pruned ranks exactly: before each validation and test the current rank pattern is applied, so a
kept model (PEFT saves the pruned ranks only) reproduces the tested one. PEFT's orthogonality penalty is not
added: it lives in PeftModel.forward's loss, which our objectives (lightning_modules/objectives.py) compute
themselves.
"""

from __future__ import annotations

import logging

import pytorch_lightning as pl

from sweep.strategies.base import STRATEGIES
from sweep.strategies.peft_method import PeftMethod

log = logging.getLogger("sweep")
UNKNOWN_TOTAL = 10**9  # a placeholder PEFT accepts until the trainer says how many steps there are (on_train_start)


@STRATEGIES.register("adalora")
class AdaLoRA(PeftMethod):
    def peft_config(self, model, tokenizer):
        from peft import AdaLoraConfig

        c = self.config
        return AdaLoraConfig(
            init_r=c.r, target_r=c.target_r, lora_alpha=c.alpha, lora_dropout=c.dropout, deltaT=c.delta_t, total_step=UNKNOWN_TOTAL,
            target_modules=self.targets(model), task_type=self.task_type(model),
        )  # fmt: skip

    def training_callbacks(self, model) -> list:
        return [BudgetSchedule(self.config.tinit, self.config.tfinal)]


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
