"""Regression of one number per row: the head predicts the standardised target, metrics read the raw scale.

Standardising ((y - mean) / std, from the training targets) keeps the loss and the head's initial outputs
on the scale of a classifier's whatever the target's units, so the same learning rates work. RMSE, MAE,
Pearson and Spearman are reported on the raw scale (prediction * std + mean), in the target's units.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from lightning_modules.objectives import Objective, by_stage

LOSSES = ("mse", "huber")


def standardise_scale(values: np.ndarray) -> tuple[float, float]:
    """(mean, std) of the training targets; std is the population one (ddof=0), defined for a single value.

    A constant target has std 0: 1.0 instead, so standardising subtracts the mean and divides by nothing.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError("standardise_scale needs at least one value, all finite")
    mean, std = float(values.mean()), float(values.std())
    return mean, std if std > 0 else 1.0


class Values(Metric):
    """Every raw prediction and target of the stage, as ``cat`` states (gathered across DDP ranks).

    Spearman ranks the whole set, so sums would not do; with the values at hand every metric is reduced
    once, in float64 on the CPU. Stored in float64 (float32 on MPS, which has no float64).
    """

    full_state_update = False
    is_differentiable = False

    def __init__(self):
        super().__init__()
        self.add_state("preds", [], dist_reduce_fx="cat")
        self.add_state("target", [], dist_reduce_fx="cat")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        dtype = torch.float32 if preds.device.type == "mps" else torch.float64
        self.preds.append(preds.detach().to(dtype))
        self.target.append(target.detach().to(dtype))

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.preds:
            return torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
        return dim_zero_cat(self.preds), dim_zero_cat(self.target)


def pearson(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson's r in float64; NaN where undefined (fewer than 2 values, or either side constant), as in
    scipy and torchmetrics: a constant prediction has no correlation to report, and 0.0 would pass for one."""
    if x.numel() < 2 or bool(x.max() == x.min()) or bool(y.max() == y.min()):
        return torch.tensor(math.nan, dtype=torch.float64)
    dx, dy = x - x.mean(), y - y.mean()
    r = (dx * dy).sum() / torch.sqrt((dx * dx).sum() * (dy * dy).sum())
    return r.clamp(-1.0, 1.0)  # rounding may overshoot by an ulp


def average_ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks, ties sharing the mean of their ranks (scipy.stats.rankdata's "average")."""
    ordered, order = x.sort()
    _, inverse, counts = torch.unique_consecutive(ordered, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).to(torch.float64)  # last rank of each run of equal values
    mean_rank = ends - (counts.to(torch.float64) - 1) / 2
    ranks = torch.empty_like(x, dtype=torch.float64)
    ranks[order] = mean_rank[inverse]
    return ranks


class Regression(Objective):
    """MSE or Huber on the standardised target; ``rmse``, ``mae``, ``pearson``, ``spearman`` on the raw scale.

    logits: [B, 1] or [B], the standardised prediction; ``batch["labels"]``: float [B], raw targets.
    Pearson and Spearman are NaN for a constant prediction (see ``pearson``); early stopping monitors rmse.
    """

    def __init__(self, mean: float, std: float, loss: str = "mse", huber_delta: float = 1.0):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {loss!r}")
        if not std > 0:
            raise ValueError(f"std must be positive, not {std}")
        self.mean, self.std, self.kind, self.huber_delta = float(mean), float(std), loss, float(huber_delta)
        self.values = by_stage(Values)

    @staticmethod
    def column(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if logits.shape not in (labels.shape, (*labels.shape, 1)):
            raise ValueError(f"regression logits must be [B] or [B, 1] for labels {tuple(labels.shape)}, not {tuple(logits.shape)}")
        return logits.reshape(labels.shape)

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        labels = batch["labels"]
        prediction = self.column(logits, labels).float()
        target = (labels.float() - self.mean) / self.std
        if self.kind == "huber":
            return F.huber_loss(prediction, target, delta=self.huber_delta)
        return F.mse_loss(prediction, target)

    def update(self, logits: torch.Tensor, batch: dict, stage: str) -> None:
        labels = batch["labels"]
        values = self.values[f"{stage}_"]
        dtype = torch.float32 if logits.device.type == "mps" else torch.float64
        values.update(self.column(logits, labels).to(dtype) * self.std + self.mean, labels)

    def compute(self, stage: str) -> dict[str, torch.Tensor]:
        values = self.values[f"{stage}_"]
        preds, target = (v.to("cpu", torch.float64) for v in values.compute())
        error = preds - target
        metrics = {
            "rmse": torch.sqrt((error * error).mean()),
            "mae": error.abs().mean(),
            "pearson": pearson(preds, target),
            "spearman": pearson(average_ranks(preds), average_ranks(target)),
        }
        device = values.device
        dtype = torch.float32 if device.type == "mps" else torch.float64
        return {f"{stage}/{name}": value.to(device, dtype) for name, value in metrics.items()}

    def reset(self, stage: str) -> None:
        self.values[f"{stage}_"].reset()

    def example_statistics(self, logits: torch.Tensor, batch: dict, stage: str) -> dict[str, torch.Tensor]:
        """Each row's raw-scale prediction and target: RMSE, MAE and both correlations are recomputed from them."""
        labels = batch["labels"]
        return {"prediction": self.column(logits, labels).double() * self.std + self.mean, "target": labels.double()}

    def example_formulas(self) -> dict[str, list]:
        return {name: [name, "prediction", "target"] for name in ("rmse", "mae", "pearson", "spearman")}


class RegressionDistillation(Regression):
    """Training follows a teacher's predictions as well as the true targets: α·loss(student, target) + (1 − α)·
    loss(student, teacher), both standardised by the student's scale. ``batch["teacher_logits"]``: float [B, 1],
    the teacher's prediction on the raw scale. No temperature: a number has no distribution to soften.
    Validation and test losses stay the plain loss, so they compare with runs without a teacher."""

    def __init__(self, mean: float, std: float, loss: str = "mse", huber_delta: float = 1.0, alpha: float = 0.5):
        super().__init__(mean, std, loss, huber_delta)
        self.alpha = float(alpha)

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        hard = super().loss(logits, batch, stage)
        if stage != "train":
            return hard
        taught = batch["teacher_logits"].reshape(batch["labels"].shape)
        return self.alpha * hard + (1.0 - self.alpha) * super().loss(logits, {"labels": taught}, stage)
