"""Single-label classification: one class per row (sentiment, topic, entailment, an image's digit).

The head reads the pooled backbone output; cross-entropy; accuracy and macro-F1 (lightning_modules/objectives.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sweep.config.errors import ConfigError
from sweep.task_types.base import TaskType, label_names

if TYPE_CHECKING:
    import pandas as pd

    from sweep.config.schema import TaskConfig


class Classification(TaskType):
    name = "classification"
    metrics = {"loss": "min", "acc": "max", "f1": "max"}
    monitor = "val/acc"
    shown = ("test/acc", "test/f1")
    pairs = True

    def label_rows(self, frame: pd.DataFrame, task: TaskConfig) -> tuple[list[str], pd.DataFrame]:
        frame = frame.assign(label=frame["label"].astype(str))
        frame = mapped(frame, task)
        names = label_names(sorted(frame["label"].unique()), task)
        return names, frame.assign(label=frame["label"].map({name: i for i, name in enumerate(names)}))

    def targets(self, labels, label_names) -> np.ndarray:
        return np.asarray(labels, dtype=np.int64)

    def objective(self, label_names, fitted, task, distill=None):
        from lightning_modules.objectives import Classification as CrossEntropy
        from lightning_modules.objectives import Distillation

        if distill is not None:
            return Distillation(len(label_names), distill.alpha, distill.temperature)
        return CrossEntropy(len(label_names))


def mapped(frame: pd.DataFrame, task: TaskConfig) -> pd.DataFrame:
    """Rows whose (string) label ``task.label_map`` maps, renamed; all rows without a map. Empty: an error."""
    rows = len(frame)
    if task.label_map is not None:
        frame = frame[frame["label"].isin(list(task.label_map))]
        frame = frame.assign(label=frame["label"].map(task.label_map))
    if frame.empty:
        listed = " listed in task.label_map" if task.label_map is not None else ""
        raise ConfigError("task.label_column", f"none of the {rows} rows has both a text and a label{listed}", task.label_column)
    return frame
