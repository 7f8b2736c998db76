"""What a classifier is trained and judged on: its loss and its metrics, one object per kind of training.

The LightningModule knows none of this: it asks its objective for the loss of a batch, feeds it the
batch's outputs, and logs what the objective computes at the end of each stage. Distillation (a
teacher's soft labels in the loss) and multi-task training (one head per sub-task, per-task metrics
and their mean) are objectives like plain cross-entropy; the training loop stays the same.

Why not torchmetrics' ``MetricCollection`` alone: multi-task metrics are per sub-task *and* averaged
across them, and a distillation loss is not a metric. The metrics themselves are torchmetrics'.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

STAGES = ("train", "val", "test")


def by_stage(make) -> nn.ModuleDict:
    """One of ``make()`` per stage (keys ``train_``... : ``train`` is taken by nn.Module.train)."""
    return nn.ModuleDict({f"{stage}_": make() for stage in STAGES})


class ExactCounts:
    """Reduces a stat-scores metric's integer counts (tp, fp, tn, fn) in float64, on the CPU.

    torchmetrics divides them in float32: an accuracy of 79/100 reached MLflow (and best_*, the tables, the
    search) as 0.79000002. In float64 it is the correctly rounded fraction, float(79) / float(100) == 0.79,
    and Lightning keeps it float64 on its way to the logger. The counts stay int64 on the model's device;
    they are divided on the CPU (a few numbers, once an epoch), the value goes back to that device. MPS has
    no float64: there the value is float32.
    """

    def compute(self) -> torch.Tensor:
        device = self.tp.device
        return super().compute().to(device, torch.float32 if device.type == "mps" else torch.float64)

    def _final_state(self) -> tuple[torch.Tensor, ...]:
        return tuple(state.to("cpu", torch.float64) for state in super()._final_state())


class ExactAccuracy(ExactCounts, MulticlassAccuracy):
    pass


class ExactF1Score(ExactCounts, MulticlassF1Score):
    pass


def classification_metrics(num_labels: int) -> MetricCollection:
    return MetricCollection({"acc": ExactAccuracy(num_labels, average="micro"), "f1": ExactF1Score(num_labels, average="macro")})


class Objective(nn.Module):
    """Loss and metrics of one kind of training. An nn.Module so that its metric states follow the model's device."""

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        raise NotImplementedError

    def update(self, logits: torch.Tensor, batch: dict, stage: str) -> None:
        raise NotImplementedError

    def compute(self, stage: str) -> dict[str, torch.Tensor]:
        """The stage's metrics since its last reset, named ``<stage>/<metric>``."""
        raise NotImplementedError

    def reset(self, stage: str) -> None:
        raise NotImplementedError

    def adopt(self, at_best: dict[str, float]) -> None:
        """The validation metrics of the step whose weights were restored for testing. An objective that
        calibrates on validation (a multi-label decision threshold) takes its value from there; most do nothing."""

    # per-example records (examples.py): what a report bootstraps its intervals from
    def example_statistics(self, logits: torch.Tensor, batch: dict, stage: str) -> dict[str, torch.Tensor]:
        """Per row of the batch, the numbers its metrics are made of: name -> [B] or [B, k]."""
        return {}

    def example_formulas(self) -> dict[str, list]:
        """Metric name (without the stage) -> its formula over the statistics (example_formulas.py)."""
        return {}

    def record_examples(self, log, ids: torch.Tensor, logits: torch.Tensor, batch: dict, stage: str) -> None:
        """Add the batch's per-row statistics to ``log`` under their example ids (multi-task: per sub-task)."""
        log.add(ids, self.example_statistics(logits, batch, stage))

    def finish_examples(self, stage: str, columns: dict) -> dict:
        """The stage's columns once its metrics are computed (a multi-label threshold is chosen only then)."""
        return columns


class Classification(Objective):
    """Cross-entropy against the labels; accuracy and macro-F1."""

    def __init__(self, num_labels: int):
        super().__init__()
        self.metrics = by_stage(lambda: classification_metrics(num_labels))

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        return F.cross_entropy(logits.float(), batch["labels"])

    def update(self, logits: torch.Tensor, batch: dict, stage: str) -> None:
        self.metrics[f"{stage}_"].update(logits, batch["labels"])

    def compute(self, stage: str) -> dict[str, torch.Tensor]:
        return {f"{stage}/{name}": value for name, value in self.metrics[f"{stage}_"].compute().items()}

    def reset(self, stage: str) -> None:
        self.metrics[f"{stage}_"].reset()

    def example_statistics(self, logits: torch.Tensor, batch: dict, stage: str) -> dict[str, torch.Tensor]:
        return class_counts(logits.argmax(-1), batch["labels"], logits.size(-1))

    def example_formulas(self) -> dict[str, list]:
        return dict(CLASSIFICATION_FORMULAS)


def class_counts(predicted: torch.Tensor, labels: torch.Tensor, classes: int) -> dict[str, torch.Tensor]:
    """Per row: correct (0/1), count (1), and per class tp, fp, fn (one-hot rows): accuracy and macro-F1 resampled."""
    guess, gold = F.one_hot(predicted, classes).bool(), F.one_hot(labels, classes).bool()
    return {
        "correct": (predicted == labels).double(),
        "count": torch.ones_like(labels, dtype=torch.float64),
        "tp": (guess & gold).double(),
        "fp": (guess & ~gold).double(),
        "fn": (~guess & gold).double(),
    }


# torchmetrics' micro accuracy and macro F1 (over the classes with any tp, fp or fn) from class_counts
CLASSIFICATION_FORMULAS = {"acc": ["ratio", "correct", "count"], "f1": ["macro_f1_seen", "tp", "fp", "fn"]}


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, alpha: float, temperature: float) -> torch.Tensor:
    """α·CE(student, labels) + (1 − α)·T²·KL(teacher_T ‖ student_T) (Hinton et al., 2015).

    T² keeps the soft term's gradients on the scale of the hard term's as the temperature changes.
    """
    hard = F.cross_entropy(student, labels)
    soft = F.kl_div(
        F.log_softmax(student / temperature, -1), F.log_softmax(teacher / temperature, -1), reduction="batchmean", log_target=True
    )
    return alpha * hard + (1.0 - alpha) * temperature**2 * soft


class Distillation(Classification):
    """Training follows a teacher's soft labels (``batch["teacher_logits"]``) as well as the true ones.

    Validation and test losses stay plain cross-entropy, so they compare with runs without a teacher.
    """

    def __init__(self, num_labels: int, alpha: float, temperature: float):
        super().__init__(num_labels)
        self.alpha = alpha
        self.temperature = temperature

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        if stage != "train":
            return super().loss(logits, batch, stage)
        return distillation_loss(logits.float(), batch["teacher_logits"].float(), batch["labels"], self.alpha, self.temperature)


class MultiTask(Objective):
    """One head per sub-task, side by side in the classifier's output: sub-task t owns columns
    ``[offset_t, offset_t + n_t)``; each row's ``batch["task"]`` says which sub-task it belongs to and its
    label counts from 0 within that sub-task. Metrics per sub-task (``val/<task>/acc``) and their
    unweighted mean (``val/acc``), which early stopping and the search monitor.
    """

    def __init__(self, task_names: list[str], num_labels: list[int]):
        super().__init__()
        self.task_names = list(task_names)
        starts = [sum(num_labels[:i]) for i in range(len(num_labels))]
        self.columns = [(start, start + n) for start, n in zip(starts, num_labels)]
        self.metrics = by_stage(lambda: nn.ModuleList([classification_metrics(n) for n in num_labels]))
        self.seen = {stage: [False] * len(num_labels) for stage in STAGES}

    def rows(self, batch: dict):
        for index, (start, end) in enumerate(self.columns):
            mask = batch["task"] == index
            if mask.any():
                yield index, mask, start, end

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        total = logits.new_zeros((), dtype=torch.float32)
        for _, mask, start, end in self.rows(batch):
            total = total + F.cross_entropy(logits[mask, start:end].float(), batch["labels"][mask], reduction="sum")
        return total / batch["labels"].size(0)

    def update(self, logits: torch.Tensor, batch: dict, stage: str) -> None:
        for index, mask, start, end in self.rows(batch):
            self.metrics[f"{stage}_"][index].update(logits[mask, start:end], batch["labels"][mask])
            self.seen[stage][index] = True

    def compute(self, stage: str) -> dict[str, torch.Tensor]:
        out, per_metric = {}, {}
        seen = self.seen_anywhere(stage)
        for index, name in enumerate(self.task_names):
            if not seen[index]:  # e.g. a short training epoch that drew no row of it
                continue
            for metric, value in self.metrics[f"{stage}_"][index].compute().items():
                out[f"{stage}/{name}/{metric}"] = value
                per_metric.setdefault(metric, []).append(value)
        out.update({f"{stage}/{metric}": torch.stack(values).mean() for metric, values in per_metric.items()})
        return out

    def seen_anywhere(self, stage: str) -> list[bool]:
        return seen_on_any_rank(self.seen[stage])

    def record_examples(self, log, ids, logits, batch, stage) -> None:
        for index, mask, start, end in self.rows(batch):
            counts = class_counts(logits[mask, start:end].argmax(-1), batch["labels"][mask], end - start)
            log.add(ids[mask], {f"{self.task_names[index]}/{name}": value for name, value in counts.items()})

    def example_formulas(self) -> dict[str, list]:
        return per_task_formulas({name: CLASSIFICATION_FORMULAS for name in self.task_names})

    def reset(self, stage: str) -> None:
        for metrics in self.metrics[f"{stage}_"]:
            metrics.reset()
        self.seen[stage] = [False] * len(self.columns)


def per_task_formulas(by_task: dict[str, dict[str, list]]) -> dict[str, list]:
    """Each sub-task's formulas over its own columns (``<task>/<column>``), as ``<task>/<metric>``, and for each metric
    every sub-task has, their unweighted mean: as multi-task ``compute`` logs them."""
    from lightning_modules.example_formulas import renamed

    out = {f"{task}/{metric}": renamed(spec, f"{task}/") for task, formulas in by_task.items() for metric, spec in formulas.items()}
    shared = set.intersection(*(set(formulas) for formulas in by_task.values())) if by_task else set()
    first = next(iter(by_task.values()), {})
    for metric in (m for m in first if m in shared):
        out[metric] = ["mean", *(out[f"{task}/{metric}"] for task in by_task)]
    return out


def seen_on_any_rank(seen: list[bool]) -> list[bool]:
    """Sub-tasks seen by any DDP rank (each trains on its own batches): every rank then computes, and syncs, the
    same metrics; a rank skipping one would leave the others waiting in its sync."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        flags = torch.tensor(seen, dtype=torch.int32)  # gloo and NCCL both reduce it where it is: CPU for gloo
        if torch.distributed.get_backend() == "nccl":
            flags = flags.cuda()
        torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
        seen = [bool(flag) for flag in flags.tolist()]
    return seen
