"""One task's labelled splits: raw rows from its kind (sweep/data/kinds.py), labels mapped to ids, empty
and duplicate texts dropped, then split reproducibly (sweep/data/splitting.py). Images take the same
path: their rows are indices into the image array until the split picks them. Multi-task training stacks
several of these (sweep/data/multitask.py); sweep/data/tasks.py chooses between the two."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sweep.config.errors import ConfigError
from sweep.data.kinds import TASK_KINDS
from sweep.data.splitting import split_rows

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig


@dataclass
class Split:
    inputs: list[str] | np.ndarray  # texts, or uint8 images (rows, height, width[, channels])
    labels: np.ndarray  # int64 label ids (within the row's sub-task, in multi-task training)
    tasks: np.ndarray | None = None  # multi-task training: each row's sub-task index

    def __len__(self) -> int:
        return len(self.labels)


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


def load_single(task: TaskConfig) -> Splits:
    """One task (not multi): read its rows, map labels to ids and split them reproducibly (groups never straddle splits)."""
    kind = TASK_KINDS.get(task.kind)
    if kind.modality == "image":
        import pandas as pd

        images = kind.read(task)
        frame = pd.DataFrame({"row": np.arange(len(images.labels)), "label": images.labels})
        if images.split is not None:
            frame["split"] = images.split
        names, parts = _labelled_splits(frame, task)
        return Splits(*(Split(images.images[part["row"].to_numpy()], part["label"].to_numpy("int64")) for part in parts), names)
    frame = kind.read(task)
    frame = frame[frame["text"].notna() & frame["label"].notna()]  # a missing label is no class
    frame = frame.assign(text=frame["text"].astype(str).str.strip())
    frame = frame[frame["text"].str.len() > 0].drop_duplicates("text")
    names, parts = _labelled_splits(frame, task)
    return Splits(*(Split(part["text"].tolist(), part["label"].to_numpy("int64")) for part in parts), names)


def _labelled_splits(frame, task: TaskConfig):
    """Map the raw labels to ids (task.label_map, task.labels) and split the rows: (label names, parts)."""
    rows = len(frame)
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
    return names, split_rows(frame, task)
