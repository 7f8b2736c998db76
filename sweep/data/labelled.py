"""One task's labelled splits: raw rows from its kind (sweep/data/kinds.py), labels mapped to ids, empty
and duplicate texts dropped, then split reproducibly (sweep/data/splitting.py). Images take the same
path: their rows are indices into the image array until the split picks them. Multi-task training stacks
several of these (sweep/data/multitask.py); sweep/data/tasks.py chooses between the two."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sweep.data.kinds import TASK_KINDS
from sweep.data.splitting import split_rows
from sweep.task_types import TASK_TYPES

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig


@dataclass
class Split:
    inputs: list | np.ndarray  # texts, word lists (token classification), or uint8 images (rows, height, width[, channels])
    labels: np.ndarray  # the task type's targets: label ids, multi-hot rows, numbers, or one tag-id array per sentence
    tasks: np.ndarray | None = None  # multi-task training: each row's sub-task index
    pairs: list[str] | None = None  # task.text_pair_column: each row's second text; image_text: each image's text

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Splits:
    train: Split
    val: Split
    test: Split
    label_names: list[str]  # multi-task: "<task>/<label>", sub-task after sub-task; regression: the target's name
    task_names: list[str] | None = None  # multi-task training only
    task_label_counts: list[int] | None = None
    task_type: str = "classification"
    sub_task_types: list[str] | None = None  # multi-task training across types: each sub-task's (None: all classification)
    fitted: dict = field(default_factory=dict)  # what the type learnt from the training split (a target's scale)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


def load_single(task: TaskConfig) -> Splits:
    """One task (not multi): read its rows, turn labels into its type's targets and split them reproducibly
    (groups never straddle splits)."""
    kind = TASK_KINDS.get(task.kind)
    task_type = TASK_TYPES.get(task.type)
    if kind.modality == "image_text":  # the image as the input, its text as the row's pair
        return _image_text_splits(kind.read(task), task, task_type)
    if kind.modality == "image":
        import pandas as pd

        images = kind.read(task)
        frame = pd.DataFrame({"row": np.arange(len(images.labels)), "label": images.labels})
        if images.split is not None:
            frame["split"] = images.split
        names, parts = _labelled_splits(frame, task)
        splits = [Split(images.images[part["row"].to_numpy()], task_type.targets(part["label"], names)) for part in parts]
        return _with_fit(Splits(*splits, names, task_type=task.type), task_type)
    frame = kind.read(task)
    frame = frame[frame["label"].notna()]  # a missing label is no target
    if kind.words:  # sentences as word lists: empty ones dropped, and repeated ones (a sentence in two splits leaks)
        frame = frame[frame["tokens"].map(len) > 0]
        frame = frame[~frame["tokens"].map(tuple).duplicated()]
        inputs = "tokens"
    else:
        columns = ["text", "text_pair"] if task.text_pair_column is not None else ["text"]
        for column in columns:
            frame = frame[frame[column].notna()]
            frame = frame.assign(**{column: frame[column].astype(str).str.strip()})
            frame = frame[frame[column].str.len() > 0]
        # a repeated input is one example (the same text in two splits would leak), but for generation a pair:
        # one question with several real answers is several examples, kept in one split by their group
        frame = frame.drop_duplicates(columns + (["label"] if task_type.head == "generate" else []))
        inputs = "text"
    names, parts = _labelled_splits(frame, task)
    pair = task.text_pair_column is not None and not kind.words
    splits = [
        Split(part[inputs].tolist(), task_type.targets(part["label"], names), pairs=part["text_pair"].tolist() if pair else None)
        for part in parts
    ]
    return _with_fit(Splits(*splits, names, task_type=task.type), task_type)


def _image_text_splits(rows, task: TaskConfig, task_type) -> Splits:
    import pandas as pd

    frame = pd.DataFrame({"row": np.arange(len(rows.labels)), "label": rows.labels})
    if rows.split is not None:
        frame["split"] = rows.split
    names, parts = _labelled_splits(frame, task)
    texts = np.asarray(rows.texts, dtype=object)
    splits = []
    for part in parts:
        picked = part["row"].to_numpy()
        splits.append(Split(rows.images[picked], task_type.targets(part["label"], names), pairs=texts[picked].tolist()))
    return _with_fit(Splits(*splits, names, task_type=task.type), task_type)


def _with_fit(splits: Splits, task_type) -> Splits:
    splits.fitted = task_type.fit(splits.train.labels)  # the training split only: nothing of val or test leaks into it
    return splits


def _labelled_splits(frame, task: TaskConfig):
    """The task type's targets (sweep/task_types/), then the rows split: (label names, parts)."""
    names, frame = TASK_TYPES.get(task.type).label_rows(frame, task)
    return names, split_rows(frame, task)
