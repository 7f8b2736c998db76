"""Multi-label classification: each row carries any number of labels, one sigmoid per label.

Binary cross-entropy against the multi-hot labels; micro-, macro- and per-label F1 at a decision threshold
on the sigmoid probabilities. The threshold is a choice made on validation data, like early stopping's:
every validation searches a fixed grid for the threshold with the best micro-F1 and reports its metrics
there; training and test metrics use the threshold the last validation chose (0.5 before any), and after
the best weights are restored, ``adopt`` takes the one chosen with them, so test is never searched on.
"""

from __future__ import annotations

import re
from fractions import Fraction

import torch
import torch.nn.functional as F
from torchmetrics import Metric

from lightning_modules.objectives import Objective, by_stage

GRID = tuple(k / 20 for k in range(1, 20))  # 0.05, 0.10, ..., 0.95: each the float64 nearest k/20
DEFAULT = GRID.index(0.5)


def metric_key(label: str) -> str:
    """A label as part of a metric name: MLflow takes letters, digits, ``_ - . /`` and spaces only (it would drop
    the colons of ``works-with::mail`` itself, with a warning per label): anything else becomes ``_``."""
    return re.sub(r"[^\w.\- /]", "_", label)


def result_dtype(device: torch.device) -> torch.dtype:
    """float64 (the exact fraction reaches MLflow), except on MPS, which has none."""
    return torch.float32 if device.type == "mps" else torch.float64


class GridCounts(Metric):
    """tp, fp and fn per grid threshold and label: int64 ``[len(GRID), num_labels]`` sum states.

    Why counts rather than the probabilities: the threshold search needs the whole set's predictions at
    every grid value, and these counts are all it reads. They are integers, so summing them over batches
    and DDP ranks is exact, in the same few numbers however large the set; F1 divides them once, in
    float64. Kept for every stage, so train and test read the row of whatever threshold is current when
    they are computed, even if a validation in mid-epoch moved it.
    """

    full_state_update = False
    is_differentiable = False

    def __init__(self, num_labels: int):
        super().__init__()
        for name in ("tp", "fp", "fn"):
            self.add_state(name, torch.zeros(len(GRID), num_labels, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        # strictly above the threshold is positive: torchmetrics' convention (preds > threshold)
        # the grid made here, not a buffer: a bf16-true module's .to(dtype) would round a float buffer
        grid = torch.tensor(GRID, dtype=torch.float32, device=logits.device).view(-1, 1, 1)
        predicted = torch.sigmoid(logits.float()).unsqueeze(0) > grid  # [G, B, L]
        gold = (labels > 0.5).unsqueeze(0)
        self.tp += (predicted & gold).sum(1)
        self.fp += (predicted & ~gold).sum(1)
        self.fn += (~predicted & gold).sum(1)

    def compute(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.tp, self.fp, self.fn


def f1(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
    """2tp / (2tp + fp + fn) in float64 (counts below 2^53: the correctly rounded fraction); 0 where 0/0."""
    tp, fp, fn = (count.to("cpu", torch.float64) for count in (tp, fp, fn))
    denominator = 2 * tp + fp + fn
    return torch.where(denominator > 0, 2 * tp / denominator.clamp(min=1), torch.zeros_like(tp))


def best_threshold(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> int:
    """Index into GRID of the best micro-F1 (compared as exact fractions); ties: nearest 0.5, then lower."""

    def key(index: int) -> tuple:
        a, b, c = int(tp[index].sum()), int(fp[index].sum()), int(fn[index].sum())
        score = Fraction(2 * a, 2 * a + b + c) if a + b + c else Fraction(0)
        return score, -abs(index - DEFAULT), -index

    return max(range(len(GRID)), key=key)


def grid_index(threshold: float) -> int:
    """The grid value a threshold stands for: one logged in float64 is exact, one read back as float32 near."""
    index = min(range(len(GRID)), key=lambda i: abs(GRID[i] - threshold))
    if abs(GRID[index] - threshold) > 1e-6:
        raise ValueError(f"threshold {threshold} is not on the grid {GRID}")
    return index


class MultiLabel(Objective):
    """BCE on multi-hot ``batch["labels"]`` (float [B, L]); F1 at a threshold searched on validation only.

    Metrics per stage: ``f1_micro``, ``f1_macro``, ``f1/<label>`` and the ``threshold`` they were read at.
    Macro-F1 follows torchmetrics' MultilabelF1Score: the unweighted mean over *all* labels, a label with no
    gold and no predicted positive scoring 0 (zero_division=0) and still counted.
    """

    def __init__(self, label_names: list[str]):
        super().__init__()
        self.label_names = list(label_names)
        self.counts = by_stage(lambda: GridCounts(len(self.label_names)))
        self.threshold = GRID[DEFAULT]  # until a validation (or ``adopt``) chooses one

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.float(), batch["labels"].float())

    def update(self, logits: torch.Tensor, batch: dict, stage: str) -> None:
        self.counts[f"{stage}_"].update(logits, batch["labels"])

    def compute(self, stage: str) -> dict[str, torch.Tensor]:
        """Validation chooses (and keeps) the threshold; train and test read the current one.

        The counts are synced across DDP ranks before the search, so every rank chooses the same threshold.
        """
        metric = self.counts[f"{stage}_"]
        tp, fp, fn = (count.cpu() for count in metric.compute())
        if stage == "val":
            index = best_threshold(tp, fp, fn)
            self.threshold = GRID[index]
        else:
            index = grid_index(self.threshold)
        tp, fp, fn = tp[index], fp[index], fn[index]
        per_label = f1(tp, fp, fn)
        values = {"f1_micro": f1(tp.sum(), fp.sum(), fn.sum()), "f1_macro": per_label.sum() / len(self.label_names)}
        values.update({f"f1/{metric_key(name)}": per_label[i] for i, name in enumerate(self.label_names)})
        values["threshold"] = torch.tensor(GRID[index], dtype=torch.float64)
        device = metric.tp.device
        return {f"{stage}/{name}": value.to(device, result_dtype(device)) for name, value in values.items()}

    def reset(self, stage: str) -> None:
        self.counts[f"{stage}_"].reset()

    def example_statistics(self, logits: torch.Tensor, batch: dict, stage: str) -> dict[str, torch.Tensor]:
        """The probabilities (float32, as GridCounts compares them) and gold rows: the threshold is chosen after the stage."""
        return {"probability": torch.sigmoid(logits.float()), "gold": (batch["labels"] > 0.5).double()}

    def finish_examples(self, stage: str, columns: dict) -> dict:
        """Per row and label tp, fp, fn at the threshold the stage's metrics were read at (chosen on this
        validation, or adopted for the test): the interval is conditional on that threshold, not re-searched."""
        import numpy as np

        if "probability" not in columns:
            return columns
        threshold = np.float32(GRID[grid_index(self.threshold)])
        predicted, gold = columns.pop("probability").astype(np.float32) > threshold, columns.pop("gold") > 0.5
        return {**columns, "tp": (predicted & gold) * 1.0, "fp": (predicted & ~gold) * 1.0, "fn": (~predicted & gold) * 1.0}

    def example_formulas(self) -> dict[str, list]:
        return {"f1_micro": ["f1", "tp", "fp", "fn"], "f1_macro": ["macro_f1", "tp", "fp", "fn"]}

    def adopt(self, at_best: dict[str, float]) -> None:
        """Take ``val/threshold`` from the val metrics logged at the best step, whose weights were restored:
        the threshold chosen with those weights (the last validation's may be a later, worse epoch's)."""
        if "val/threshold" in at_best:
            self.threshold = GRID[grid_index(float(at_best["val/threshold"]))]


class MultiLabelDistillation(MultiLabel):
    """Training follows a teacher's per-label probabilities as well as the true labels:
    α·BCE(student, labels) + (1 − α)·T²·BCE(σ(student / T), σ(teacher / T)), each label a two-class distillation
    (Hinton et al., 2015, one sigmoid per label). ``batch["teacher_logits"]``: float [B, L]. Validation and test
    losses stay plain BCE, so they compare with runs without a teacher."""

    def __init__(self, label_names: list[str], alpha: float, temperature: float):
        super().__init__(label_names)
        self.alpha, self.temperature = float(alpha), float(temperature)

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        hard = super().loss(logits, batch, stage)
        if stage != "train":
            return hard
        t = self.temperature
        soft = F.binary_cross_entropy_with_logits(logits.float() / t, torch.sigmoid(batch["teacher_logits"].float() / t))
        return self.alpha * hard + (1.0 - self.alpha) * t**2 * soft
