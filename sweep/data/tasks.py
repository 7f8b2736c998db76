"""A task's splits, whatever its kind: one task's labelled rows (sweep/data/labelled.py), or a stack of
sub-tasks for multi-task training (sweep/data/multitask.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweep.data.labelled import Split, Splits, load_single
from sweep.data.multitask import load_multitask

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig

__all__ = ["Split", "Splits", "load_splits"]


def load_splits(task: TaskConfig) -> Splits:
    """Read the task's rows, map labels to ids and split them reproducibly (groups never straddle splits)."""
    if task.kind == "multi":  # not a reader of rows: a stack of other tasks
        return load_multitask(task)
    return load_single(task)
