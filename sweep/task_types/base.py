"""The task type interface (``task.type``): what a job predicts, and everything that follows from it.

``task.kind`` says where rows come from (a packaged corpus, a CSV file, CoNLL files, images); the type says
what is learnt from them: how a raw label becomes a training target, what the head is, the loss and metrics
(an objective of lightning_modules/), the monitored metric and its direction, which strategies mean something
for it, what a kept model keeps besides its weights, and what the comparison table shows. Everything else
(loaders, strategies, trainer, tracking, search) stays generic. A type is one small class in one file, like a
PEFT tuner; sweep/task_types/__init__.py lists them.

Light on purpose: no torch or transformers at import (the config check looks types up); pandas and the
objectives are imported inside the methods that build with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sweep.config.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from sweep.config.schema import TaskConfig

# what every job logs besides its type's metrics, each with the direction that makes it better
RUN_METRIC_DIRECTIONS = {
    "params_trainable": "min",
    "params_total": "min",
    "params_trainable_share": "min",
    "train_time_s": "min",
    "peak_memory_mb": "min",
    "optimizer_steps": "min",
}


class TaskType:
    name: ClassVar[str]
    # every metric a job of this type logs per stage ("<stage>/<metric>"), with its direction: max or min
    metrics: ClassVar[dict[str, str]]
    monitor: ClassVar[str]  # the default trainer.monitor
    shown: ClassVar[tuple[str, ...]]  # the test metrics of the comparison table, beside the monitored one
    # "pooled": one prediction per row from the pooled backbone output; "tokens": one per token (a word's first piece);
    # "generate": the model's own language-model head writes text (sweep/task_types/generation.py)
    head: ClassVar[str] = "pooled"
    word_rows: ClassVar[bool] = False  # reads word sequences with one tag each (a task.kind with words=True)
    losses: ClassVar[tuple[str, ...]] = ()  # task.loss values it accepts (the first is the default); () takes none
    refuses: ClassVar[dict[str, str]] = {}  # strategy name -> why it means nothing (or is not supported) for this type
    refuses_augment: ClassVar[str | None] = None  # why the training rows of this type cannot be augmented; None: they can
    # the config keys naming a user file's input and target columns (sweep/data/sources.py ``user_file``)
    columns: ClassVar[tuple[str, str]] = ("text_column", "label_column")
    pairs: ClassVar[bool] = False  # takes task.text_pair_column (two texts per row)
    has_label_names: ClassVar[bool] = True  # False: a numeric target (regression): task.labels means nothing
    # what sweep.select can score its frozen features against (sweep/select/scores.py ``Score.reads``): "classes"
    # (H-score, k-NN and linear probes, LogME) and/or "targets" (LogME)
    select_targets: ClassVar[tuple[str, ...]] = ("classes", "targets")

    # --- at compose time -------------------------------------------------------------------------------------------
    def check(self, task: TaskConfig, strategy: str, strategies: list[str]) -> None:
        """The task's keys make sense for this type and the type can run the strategy: one-line errors."""
        if strategy in self.refuses:
            allowed = ", ".join(name for name in strategies if name not in self.refuses)
            raise ConfigError("strategy", f"task.type={self.name} cannot run it: {self.refuses[strategy]} (allowed: {allowed})", strategy)
        if task.loss is not None and task.loss not in self.losses:
            allowed = ", ".join(self.losses) if self.losses else f"none (task.type={self.name} has one loss): leave it null"
            raise ConfigError("task.loss", f"not a loss of task.type={self.name}; allowed: {allowed}", task.loss)
        if task.text_pair_column is not None and not self.pairs:
            raise ConfigError("task.text_pair_column", f"task.type={self.name} reads one text per row; remove it", task.text_pair_column)
        if task.labels is not None and not self.has_label_names:
            raise ConfigError("task.labels", f"task.type={self.name} predicts a number, not named labels: remove task.labels", task.labels)

    def augment_refusal(self, family: str) -> str | None:
        """Why this type's training rows cannot be augmented for a model of ``family``; None: they can."""
        return self.refuses_augment

    def check_model(self, family: str, model_name: str) -> None:
        """The model's family can do what this type asks of it (generate text): a one-line error at compose time."""

    def default_monitor(self, task: TaskConfig) -> str:
        return self.monitor

    def direction(self, metric: str) -> str | None:
        """max or min for ``metric`` (``val/rmse``, ``train_time_s``, a sub-task's ``val/<task>/acc``); None if unknown."""
        if metric in RUN_METRIC_DIRECTIONS:
            return RUN_METRIC_DIRECTIONS[metric]
        stage, _, rest = metric.partition("/")
        if stage not in ("train", "val", "test"):
            return None
        # "val/rmse"; a sub-task's "val/<task>/acc"; one label's "val/f1/<label>"
        for name in (rest, rest.rpartition("/")[2], rest.partition("/")[0]):
            if name in self.metrics:
                return self.metrics[name]
        return None

    def check_labels(self, monitor: str, label_names: list[str]) -> None:
        """Once the data is read, before anything trains: the monitor makes sense for its labels."""

    def loss_name(self, task: TaskConfig) -> str | None:
        return task.loss or (self.losses[0] if self.losses else None)

    # --- rows to targets -------------------------------------------------------------------------------------------
    def label_rows(self, frame: pd.DataFrame, task: TaskConfig) -> tuple[list[str], pd.DataFrame]:
        """The raw ``label`` column as targets: (label names, rows with usable labels, ``label`` converted)."""
        raise NotImplementedError

    def targets(self, labels: Any, label_names: list[str]) -> np.ndarray:
        """One split's converted ``label`` column as the array its loader batches."""
        raise NotImplementedError

    def fit(self, train_targets: np.ndarray) -> dict:
        """What the type learns from the training split alone and keeps with the model (a target's scale)."""
        return {}

    def outputs(self, label_names: list[str]) -> int:
        """Width of the head."""
        return len(label_names)

    # --- training ----------------------------------------------------------------------------------------------------
    def objective(self, label_names: list[str], fitted: dict, task: TaskConfig, distill=None):
        """The loss and metrics (lightning_modules/): ``distill`` is the distill config when a teacher trains the run."""
        raise NotImplementedError

    # --- distillation (sweep/pipeline/teacher.py) ------------------------------------------------------------------
    def teacher_outputs(self, logits: np.ndarray, teacher_fitted: dict) -> np.ndarray:
        """A teacher's outputs as the student's objective reads them (regression: back on the raw scale)."""
        return logits

    def teacher_score(self, outputs: np.ndarray, labels: np.ndarray) -> tuple[str, float]:
        """How good the teacher is on a split, logged as ``teacher_<split>_<name>``: accuracy by default."""
        return "acc", float(np.mean(outputs.argmax(1) == labels))


def label_names(found: list[str], task: TaskConfig, split_on: str = "") -> list[str]:
    """The label names in id order: ``task.labels``, else the ``found`` ones (sorted). A label found but not listed,
    or fewer than two found, is a one-line error (``split_on``: how a multi-label cell was split, for it)."""
    names = list(task.labels) if task.labels is not None else list(found)
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise ConfigError("task.labels", f"the data has labels {unknown[:10]} not listed; found {list(found)[:20]}", names)
    if len(found) < 2:
        raise ConfigError("task.label_column", f"needs at least two distinct labels{split_on}, found {list(found)}", task.label_column)
    return names
