"""Multi-label classification: any number of labels per row (topics of a news story, genres of a film).

The label column holds a row's labels joined by ``task.label_separator`` (default ``|``: ``grain|wheat``). One
sigmoid per label, binary cross-entropy; micro- and macro-F1 and each label's F1 at a decision threshold that is
searched on validation and only used on test (lightning_modules/multilabel.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sweep.task_types.base import TaskType, label_names

if TYPE_CHECKING:
    import pandas as pd

    from sweep.config.schema import TaskConfig


class MultiLabel(TaskType):
    name = "multilabel"
    metrics = {"loss": "min", "f1_micro": "max", "f1_macro": "max"}
    monitor = "val/f1_micro"
    shown = ("test/f1_micro", "test/f1_macro")
    pairs = True
    select_targets = ("targets",)  # no classes: LogME only

    def label_rows(self, frame: pd.DataFrame, task: TaskConfig) -> tuple[list[str], pd.DataFrame]:
        separator = task.label_separator
        lists = frame["label"].astype(str).map(lambda cell: [label.strip() for label in cell.split(separator) if label.strip()])
        if task.label_map is not None:  # labels the map does not name are dropped from the row
            lists = lists.map(lambda labels: [task.label_map[label] for label in labels if label in task.label_map])
        names = label_names(sorted({label for labels in lists for label in labels}), task, f" (split on {separator!r})")
        index = {name: i for i, name in enumerate(names)}
        return names, frame.assign(label=lists.map(lambda labels: sorted({index[label] for label in labels})))

    def targets(self, labels, label_names) -> np.ndarray:
        """Multi-hot rows: 1.0 in each of a row's label columns (a label no row of this split has keeps its column)."""
        hot = np.zeros((len(labels), len(label_names)), np.float32)
        for row, ids in enumerate(labels):
            hot[row, ids] = 1.0
        return hot

    def objective(self, label_names, fitted, task, distill=None):
        from lightning_modules.multilabel import MultiLabel as BinaryCrossEntropy
        from lightning_modules.multilabel import MultiLabelDistillation

        if distill is not None:
            return MultiLabelDistillation(list(label_names), distill.alpha, distill.temperature)
        return BinaryCrossEntropy(list(label_names))

    def teacher_score(self, outputs: np.ndarray, labels: np.ndarray) -> tuple[str, float]:
        """The teacher's micro-F1 at 0.5 (its own threshold is not known here)."""
        predicted = outputs > 0.0
        tp = float(np.sum(predicted & (labels > 0)))
        return "f1_micro", 2 * tp / max(float(predicted.sum() + (labels > 0).sum()), 1.0)
