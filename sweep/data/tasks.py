"""A task's labelled splits: raw rows from its kind (sweep/data/sources.py), labels mapped to ids,
empty and duplicate texts dropped, then split reproducibly (sweep/data/splitting.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sweep.data.sources import TASK_KINDS
from sweep.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from sweep.schema import TaskConfig


@dataclass
class Split:
    texts: list[str]
    labels: np.ndarray  # int64 label ids (within the row's sub-task, in multi-task training)
    tasks: np.ndarray | None = None  # multi-task training: each row's sub-task index

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Splits:
    train: Split
    val: Split
    test: Split
    label_names: list[str]  # multi-task: "<task>/<label>", sub-task after sub-task
    task_names: list[str] | None = None  # multi-task training only
    task_label_counts: list[int] | None = None

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


def load_splits(task: TaskConfig) -> Splits:
    """Read the task's rows, map labels to ids and split them reproducibly (groups never straddle splits)."""
    from sweep.data.splitting import split_rows

    if task.kind == "multi":  # not a reader of rows: a stack of other tasks
        from sweep.data.multitask import load_multitask

        return load_multitask(task)
    frame = TASK_KINDS.get(task.kind)(task)
    rows = len(frame)
    frame = frame[frame["text"].notna() & frame["label"].notna()]  # a missing label is no class
    frame = frame.assign(text=frame["text"].astype(str).str.strip())
    frame = frame[frame["text"].str.len() > 0].drop_duplicates("text")
    frame = frame.assign(label=frame["label"].astype(str))
    if task.label_map is not None:
        frame = frame[frame["label"].isin(list(task.label_map))]
        frame = frame.assign(label=frame["label"].map(task.label_map))

    if frame.empty:
        mapped = " listed in task.label_map" if task.label_map is not None else ""
        raise ConfigError("task.label_column", f"none of the {rows} rows has both a text and a label{mapped}", task.label_column)
    found = sorted(frame["label"].unique())
    names = list(task.labels) if task.labels is not None else found
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise ConfigError("task.labels", f"the data has labels {unknown} not listed; found {found}", names)
    if len(found) < 2:
        raise ConfigError("task.label_column", f"needs at least two distinct labels, found {found}", task.label_column)
    frame = frame.assign(label=frame["label"].map({name: i for i, name in enumerate(names)}))
    train, val, test = split_rows(frame, task)
    return Splits(*(Split(part["text"].tolist(), part["label"].to_numpy("int64")) for part in (train, val, test)), names)
