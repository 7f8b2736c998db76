"""The text task kinds (``task.kind``, sweep/data/kinds.py): where raw rows come from. The packaged Rotten
Tomatoes corpus, and a user's own CSV/JSONL file.

A reader returns a DataFrame with columns ``text``, ``label`` (raw values) and optionally ``group`` and
``split``; everything after that (label mapping, de-duplication, splitting) is shared, in sweep/data/tasks.py.
"""

from __future__ import annotations

import codecs
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
            frame = pd.read_json(path, lines=True, dtype=as_text, encoding=task.encoding)
        else:
            frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", dtype=as_text, encoding=task.encoding)
    except UnicodeDecodeError as error:  # before ValueError, its base: the fix is task.encoding, not the path
        raise ConfigError("task.encoding", undecodable(path, task.encoding, error), task.encoding) from None
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


def undecodable(path: Path, encoding: str, error: UnicodeDecodeError) -> str:
    """What a decode error says to do: where the file's first byte that ``encoding`` cannot read is (pandas'
    own position counts from one of its buffers, not from the file's start), and which encoding to try."""
    head = b""
    try:
        head, where = first_undecodable(path, encoding)
    except Exception:  # an odd compression: the decoder's own words, still one line
        where = None
    where = where or str(error).splitlines()[0]
    # latin-1 reads every byte (but may not be the file's real encoding); a UTF-16 file says so in its first bytes
    suggestion = "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "latin-1"
    if codecs.lookup(encoding).name == codecs.lookup(suggestion).name:
        suggestion = "utf-8"
    return f"cannot decode {path} as {encoding}: {where}; set task.encoding={suggestion} (or the file's encoding)"


def first_undecodable(path: Path, encoding: str, chunk_size: int = 1 << 20) -> tuple[bytes, str | None]:
    """(the file's first bytes, where its first byte that ``encoding`` cannot decode is: "byte 0xe9 at line 2
    (offset 14)", None if none), reading the file (decompressed, as pandas does) a chunk at a time."""
    from pandas.io.common import get_handle

    decoder = codecs.getincrementaldecoder(encoding)()
    head, offset, lines = b"", 0, 0
    with get_handle(path, "rb", compression="infer", is_text=False) as handles:
        while True:
            chunk = handles.handle.read(chunk_size)
            head = head or chunk[:4]
            pending = decoder.getstate()[0]  # the bytes of an unfinished character at the last chunk's end
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:  # error.start counts from the pending bytes
                at = offset - len(pending) + error.start
                line = lines + chunk.count(b"\n", 0, max(0, at - offset)) + 1
                return head, f"byte 0x{error.object[error.start]:02x} at line {line} (offset {at})"
            if not chunk:
                return head, None
            offset += len(chunk)
            lines += chunk.count(b"\n")
