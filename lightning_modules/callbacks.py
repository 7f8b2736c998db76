"""Lightning callbacks that belong to training itself, not to tracking or search."""

from __future__ import annotations

import pytorch_lightning as pl
import torch


class RestoreBestWeights(pl.Callback):
    """Track the best validation value; keep the trainable weights at that point in memory and put
    them back when fitting ends (``restore=True``), so testing sees the best weights, not the last.

    Why not ``ModelCheckpoint``: it writes the whole model (frozen parts included) to disk at every
    improvement. Here only trainable tensors are copied (a few KB for prompt tuning and LoRA).
    """

    def __init__(self, monitor: str, mode: str, restore: bool = True):
        self.monitor, self.mode, self.restore = monitor, mode, restore
        self.best: float | None = None
        self.best_step: int | None = None
        self.at_best: dict[str, float] = {}  # every validation metric at the best step
        self.examples_at_best = None  # the best validation's per-example table (lightning_modules/examples.py)
        self._state: dict[str, torch.Tensor] = {}

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        improved = self.best is None or (value > self.best if self.mode == "max" else value < self.best)
        # under DDP, rank 0's decision for all: the ranks keep the weights of the same step
        if trainer.strategy.broadcast(improved, src=0):
            self.best, self.best_step = value, trainer.global_step
            self.at_best = {key: float(v) for key, v in trainer.callback_metrics.items() if key.startswith("val/")}
            self.examples_at_best = getattr(pl_module, "example_tables", {}).get("val")
            if self.restore:
                self._state = {name: p.detach().clone() for name, p in pl_module.named_parameters() if p.requires_grad}

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        with torch.no_grad():
            for name, param in pl_module.named_parameters():
                if name in self._state:
                    param.copy_(self._state[name])
