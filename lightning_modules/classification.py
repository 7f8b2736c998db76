"""Classification (of texts or images) as a LightningModule: one shared ``step`` for train, val and test.

The model (backbone + head) is injected and kept out of hparams; so are the optimizer's parameter
groups, built by the caller (which knows the strategy's frozen parts and the layer depths), and the
objective (lightning_modules/objectives.py: the loss and the metrics), so distillation and multi-task
training run through this same loop.
"""

from __future__ import annotations

import functools
import math

import pytorch_lightning as pl
import torch
from torch import nn

from lightning_modules.examples import ExampleLog, ExampleTable
from lightning_modules.objectives import Objective
from lightning_modules.schedule import SCHEDULERS, Schedule

MODEL_INPUTS = ("input_ids", "attention_mask", "pixel_values", "features")  # the rest of a batch is for the objective


class SequenceClassificationModule(pl.LightningModule):
    def __init__(self, model: nn.Module, objective: Objective, param_groups: list[dict], schedule: Schedule):
        super().__init__()
        self.model = model
        self.objective = objective
        self.param_groups = param_groups
        self.schedule = schedule
        self.warmup_steps = 0
        # per-example statistics of each evaluation (lightning_modules/examples.py), and the last one's table
        self.example_logs = {stage: ExampleLog() for stage in ("val", "test")}
        self.example_tables: dict[str, ExampleTable | None] = {}

    def forward(self, batch: dict) -> torch.Tensor:
        return self.model(**{key: batch[key] for key in MODEL_INPUTS if key in batch})

    def step(self, batch: dict, stage: str) -> torch.Tensor:
        logits = self(batch)
        loss = self.objective.loss(logits, batch, stage)
        if stage == "train" and not torch.isfinite(loss):
            # fail the run now rather than train on garbage; the sweeper records the trial as failed
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step}")
        self.objective.update(logits.detach(), batch, stage)
        if stage != "train":
            self.record_examples(batch, logits.detach(), loss.detach(), stage)
        # sync_dist: under DDP the mean over the ranks (each its own training batches; val/test: every rank
        # the whole split), one value on all of them; a no-op in one process
        self.log(
            f"{stage}/loss",
            loss,
            on_step=stage == "train",
            on_epoch=True,
            prog_bar=True,
            batch_size=batch["labels"].size(0),
            sync_dist=True,
        )
        return loss

    def record_examples(self, batch: dict, logits: torch.Tensor, loss: torch.Tensor, stage: str) -> None:
        """The batch's per-row statistics under their example ids (batches without ids record nothing). The loss
        is Lightning's: each row carries its batch's mean, which is what the stage's ``loss`` averages."""
        ids = batch.get("example")
        if ids is None:
            return
        log = self.example_logs[stage]
        log.add(ids, {"loss": loss.float().expand(ids.size(0)), "count": torch.ones(ids.size(0))})
        self.objective.record_examples(log, ids, logits, batch, stage)

    def example_formulas(self, stage: str) -> dict[str, list]:
        formulas = {"loss": ["ratio", "loss", "count"], **self.objective.example_formulas()}
        return {f"{stage}/{name}": spec for name, spec in formulas.items()}

    def log_metrics(self, stage: str) -> None:
        """At the end of each epoch or evaluation: the objective's metrics since the last one."""
        # torchmetrics already synced them across DDP ranks (the same on all): averaging identical values keeps them.
        # On this module's device: an objective may compute on the CPU (generation's float64 scores), and NCCL, DDP's
        # backend on GPUs, reduces no CPU tensor. MPS has no float64.
        dtype = {torch.float64: torch.float32} if self.device.type == "mps" else {}
        computed = self.objective.compute(stage)
        on_device = {key: value.to(self.device, dtype.get(value.dtype, value.dtype)) for key, value in computed.items()}
        self.log_dict(on_device, prog_bar=stage != "train", sync_dist=True)
        if stage in self.example_logs:
            finish = functools.partial(self.objective.finish_examples, stage)
            self.example_tables[stage] = self.example_logs[stage].table(self.example_formulas(stage), finish)
        self.objective.reset(stage)

    def on_train_epoch_end(self) -> None:
        self.log_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self.log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self.log_metrics("test")

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self.step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.step(batch, "test")

    def configure_optimizers(self):
        from transformers import get_scheduler

        # fused: one kernel for all tensors; on CPU 6x faster than the per-tensor loop (16 vs 100 ms
        # per step for MiniLM-L3, whose 11.7M-parameter embedding is updated densely every step)
        # fp16 (16-mixed) is the exception: its loss scale must be removed before clipping, which a fused
        # step does only inside itself
        fused = self.device.type in ("cpu", "cuda") and self.trainer.precision != "16-mixed"
        optimizer = torch.optim.AdamW(self.param_groups, lr=self.schedule.lr, fused=fused)
        total = int(self.trainer.estimated_stepping_batches)
        # computed here, from the real step count: a warmup ratio never silently becomes 0 steps
        self.warmup_steps = math.ceil(self.schedule.warmup_ratio * total)
        scheduler = get_scheduler(
            SCHEDULERS[self.schedule.scheduler], optimizer, num_warmup_steps=self.warmup_steps, num_training_steps=total
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
