"""The text task kinds (``task.kind``, sweep/data/kinds.py): where raw rows come from. The packaged Rotten
Tomatoes corpus, and a user's own CSV/JSONL file.

A reader returns a DataFrame with columns ``text``, ``label`` (raw values) and optionally ``group`` and
``split``; everything after that (label mapping, de-duplication, splitting) is shared, in sweep/data/tasks.py.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sweep.config.errors import ConfigError
from sweep.zoo.assets import ROTTEN_TOMATOES_CSV

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig

READERS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}


def rotten_tomatoes(task: TaskConfig):
    """Review snippets (fresh/rotten) and plot sentences from 1,449 movies; ``movie_name`` is the group."""
    return _packaged_corpus(str(ROTTEN_TOMATOES_CSV.locate("task.kind=rotten_tomatoes"))).copy()


@functools.cache
def _packaged_corpus(path: str):
    """Read once per process (a few MB): decompressing it took 0.14 s of every trial of a search.
    Callers get a copy: nothing they do reaches the cached frame."""
    import pandas as pd

    frame = pd.read_csv(path)
    return frame.rename(columns={"category": "label", "movie_name": "group"})[["text", "label", "group"]]


def user_file(task: TaskConfig):
    """A user's CSV, TSV or JSON-lines file (compressed too), with the columns the config names."""
    import pandas as pd

    if not task.path:
        raise ConfigError("task.path", "must name a .csv, .tsv or .jsonl file for task.kind=csv", task.path)
    path = Path(task.path).expanduser()
    if not path.is_file():
        raise ConfigError("task.path", "file not found", task.path)
    suffixes = [s for s in path.suffixes if s in READERS]
    if not suffixes:
        raise ConfigError("task.path", f"unknown file type; known: {', '.join(READERS)} (optionally compressed)", task.path)
    kind = READERS[suffixes[-1]]
    # labels as text: a numeric column with a blank cell would otherwise read as floats ("1.0")
    as_text = {task.label_column: "string"}
    try:
        if kind == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=as_text)
        else:
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", dtype=as_text)
    except pd.errors.EmptyDataError:
        raise ConfigError("task.path", "the file is empty", task.path) from None
    except ValueError as error:  # malformed JSON lines, a bad compression
        raise ConfigError("task.path", f"cannot read it: {str(error).splitlines()[0]}", task.path) from None
    if frame.empty:
        raise ConfigError("task.path", "the file has no rows", task.path)

    wanted = {"text": task.text_column, "label": task.label_column, "group": task.group_column, "split": task.split_column}
    columns = list(frame.columns)
    for role, column in wanted.items():
        if column is not None and column not in columns:
            raise ConfigError(f"task.{role}_column", f"no such column in {path.name}; columns: {', '.join(map(str, columns))}", column)
    return frame.rename(columns={column: role for role, column in wanted.items() if column is not None})[
        [role for role, column in wanted.items() if column is not None]
    ]
