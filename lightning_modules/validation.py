"""When a run validates: a fixed number of times, evenly over its training budget, the last at its end.

Lightning validates every N batches (or at fractions of an epoch) and, when the budget is not a multiple
of N, never after the last steps: 63 batches at ``val_check_interval=0.25`` validate at steps 15, 30, 45
and 60, so the last 3 steps are neither evaluated nor kept by best-weight restoring. Here the k-th of n
validations comes at step round(k * total / n): 16, 32, 47 and 63.

Each validation also has a place on a common scale, the per mille of the budget it was planned at
(250, 500, 750, 1000 for four): trials whose budgets differ in steps (batch size, epochs, strategy)
report to the pruner at equal progress, where Optuna's pruners compare them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytorch_lightning as pl

PER_MILLE = 1000


@dataclass(frozen=True)
class ValidationPlan:
    total_steps: int  # the training budget in optimizer steps
    count: int  # validations over the budget, the last one at its end

    @classmethod
    def for_budget(cls, steps_per_epoch: int, max_epochs: int, max_steps: int, interval: float) -> ValidationPlan:
        """``interval``: the fraction of an epoch between validations (``trainer.val_check_interval``)."""
        total = steps_per_epoch * max_epochs
        if max_steps > 0:
            total = min(total, max_steps)
        return cls(total, min(total, max(1, round(total / (steps_per_epoch * interval)))))

    @property
    def steps(self) -> list[int]:
        """The optimizer steps after which validation runs: k * total / count, rounded half up."""
        return [(2 * k * self.total_steps + self.count) // (2 * self.count) for k in range(1, self.count + 1)]

    def progress(self, step: int) -> int:
        """Per mille of the budget at which the validation made at ``step`` was planned."""
        planned = self.steps
        if step in planned:
            return round(PER_MILLE * (planned.index(step) + 1) / self.count)
        return min(PER_MILLE, round(PER_MILLE * step / self.total_steps))


class ValidationSchedule(pl.Callback):
    """Makes Lightning validate at the plan's steps; holds the plan for the pruning callback.

    Lightning validates when ``(batch index over all epochs + 1) % trainer.val_check_batch == 0``
    (with ``check_val_every_n_epoch=None``). Setting ``val_check_batch`` to the next planned step after
    each validation hits exactly the planned steps: no smaller step is a multiple of it.
    """

    def __init__(self, plan: ValidationPlan):
        self.plan = plan

    def replan(self, trainer: pl.Trainer, plan: ValidationPlan) -> None:
        """A new plan before the fit starts: under DDP each rank runs only its share of the batches."""
        self.plan = plan
        trainer.val_check_interval = plan.steps[0]

    def trainer_arguments(self) -> dict:
        return {"val_check_interval": self.plan.steps[0], "check_val_every_n_epoch": None}

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        trainer.val_check_batch = self.plan.steps[0]

    def on_validation_end(self, trainer: pl.Trainer, pl_module) -> None:
        if trainer.state.fn == "fit":  # not after trainer.validate/test calls
            later = [step for step in self.plan.steps if step > trainer.global_step]
            trainer.val_check_batch = later[0] if later else float("inf")
