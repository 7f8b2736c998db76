"""Task loaders: a registry from ``task.kind`` to a function that reads raw rows.

A loader returns a DataFrame with columns ``text``, ``label`` (raw values) and optionally ``group`` and
``split``; everything after that (label mapping, de-duplication, splitting) is shared, in ``load_splits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from sweep.errors import ConfigError
from sweep.registry import Registry

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from sweep.schema import TaskConfig

TASK_KINDS: Registry[Callable[["TaskConfig"], "pd.DataFrame"]] = Registry("task.kind")


@dataclass
class Split:
    texts: list[str]
    labels: "np.ndarray"  # int64 label ids

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Splits:
    train: Split
    val: Split
    test: Split
    label_names: list[str]

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


def load_splits(task: "TaskConfig") -> Splits:
    """Read the task's rows, map labels to ids and split them reproducibly (groups never straddle splits)."""
    import sweep.data.sources  # noqa: F401  (registers the task kinds)
    from sweep.data.splitting import split_rows

    frame = TASK_KINDS.get(task.kind)(task)
    frame = frame[frame["text"].notna() & frame["label"].notna()]  # a missing label is no class
    frame = frame.assign(text=frame["text"].astype(str).str.strip())
    frame = frame[frame["text"].str.len() > 0].drop_duplicates("text")
    frame = frame.assign(label=frame["label"].astype(str))
    if task.label_map is not None:
        frame = frame[frame["label"].isin(list(task.label_map))]
        frame = frame.assign(label=frame["label"].map(task.label_map))

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
