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

from sweep.strategies.base import STRATEGIES
from sweep.strategies.peft_method import PeftMethod

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
        from sweep.strategies.adalora_schedule import BudgetSchedule  # Lightning: imported by the job, not by config checks

        return [BudgetSchedule(self.config.tinit, self.config.tfinal)]
