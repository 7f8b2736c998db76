"""Language-model pre-training as a LightningModule: masked, causal or span-corruption LM, one ``step``.

The batch comes ready from the objective's collator: the model's inputs, and ``labels`` with -100 where
nothing is predicted. The loss is computed here, not by the model, so every objective reports the same
metrics the same way: token-weighted mean cross-entropy (``loss``), its ``perplexity`` and the accuracy
of the predicted tokens (``acc``: masked tokens for MLM, next tokens for CLM, target tokens for spans).

Optimizer and schedule as for fine-tuning: the same ``configure_optimizers`` (inherited for that alone).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lightning_modules.classification import SequenceClassificationModule
from lightning_modules.schedule import Schedule

STAGES = ("train", "val", "test")


class LanguageModelingModule(SequenceClassificationModule):
    def __init__(self, model: nn.Module, param_groups: list[dict], schedule: Schedule, shift_labels: bool):
        super().__init__(model, objective=None, param_groups=param_groups, schedule=schedule)
        self.shift_labels = shift_labels
        self.totals = {stage: [0.0, 0, 0] for stage in STAGES}  # summed loss, correct tokens, tokens

    def forward(self, batch: dict) -> torch.Tensor:
        return self.model(**{key: value for key, value in batch.items() if key != "labels"}).logits

    def step(self, batch: dict, stage: str) -> torch.Tensor:
        logits, labels = self(batch), batch["labels"]
        if self.shift_labels:
            logits, labels = logits[:, :-1], labels[:, 1:]
        predicted = labels != -100
        count = int(predicted.sum())
        if count == 0:  # a batch of rows too short to corrupt: nothing to learn, a zero loss with a graph
            return logits.sum() * 0.0
        chosen = logits[predicted].float()
        loss = F.cross_entropy(chosen, labels[predicted])
        if stage == "train" and not torch.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step}")
        totals = self.totals[stage]
        totals[0] += loss.item() * count
        totals[1] += int((chosen.argmax(-1) == labels[predicted]).sum())
        totals[2] += count
        if stage == "train":
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=count)
        return loss

    def log_metrics(self, stage: str) -> None:
        loss, correct, count = self.totals[stage]
        if count:
            mean = loss / count
            # acc as a float64 tensor (on the CPU: MPS has none): Lightning turns a Python float into float32,
            # and 79/100 would reach MLflow and best_val/acc as 0.79000002 (lightning_modules/objectives.py)
            acc = torch.tensor(correct / count, dtype=torch.float64)
            self.log_dict({f"{stage}/loss": mean, f"{stage}/perplexity": math.exp(min(mean, 50.0)), f"{stage}/acc": acc})
        self.totals[stage] = [0.0, 0, 0]
