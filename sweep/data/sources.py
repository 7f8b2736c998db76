"""The text task kinds (``task.kind``, sweep/data/kinds.py): where raw rows come from. The packaged Rotten
Tomatoes corpus, VADER's rated movie snippets (regression), Debian's tagged package descriptions (multi-label),
and a user's own CSV/JSONL file. Word-level rows (token classification) are read in sweep/data/word_sources.py.

A reader returns a DataFrame with columns ``text``, ``label`` (raw values: a class name, a number, or several
labels joined by ``task.label_separator``) and optionally ``group`` and ``split``; everything after that (label
mapping by task type, de-duplication, splitting) is shared, in sweep/data/labelled.py.
"""

from __future__ import annotations

import codecs
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sweep.config.errors import ConfigError
from sweep.zoo.assets import DEBIAN_DESCRIPTIONS, ROTTEN_TOMATOES_CSV, VADER_RATINGS_TAR

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig

READERS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}

VADER_MOVIE_SNIPPETS = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"  # inside VADER_RATINGS_TAR
# Debtags that say what a program does or works with (not how it is built or packaged: role::, implemented-in::,
# interface::, uitoolkit:: are left out), cut to facet::value (works-with::image:raster -> works-with::image):
# the 31 such tags that at least 150 of Debian 12's programs carry (docs/task-data.md). A fixed list, so that
# every Debian release gives the same label set; task.labels picks a subset.
DEBTAGS_LABELS = (
    "admin::configuring",
    "admin::filesystem",
    "admin::monitoring",
    "field::biology",
    "field::mathematics",
    "game::arcade",
    "hardware::storage",
    "network::client",
    "network::server",
    "security::authentication",
    "use::analysing",
    "use::checking",
    "use::configuring",
    "use::converting",
    "use::downloading",
    "use::editing",
    "use::gameplaying",
    "use::learning",
    "use::monitor",
    "use::organizing",
    "use::playing",
    "use::searching",
    "use::storing",
    "use::viewing",
    "works-with::audio",
    "works-with::db",
    "works-with::file",
    "works-with::image",
    "works-with::mail",
    "works-with::software",
    "works-with::text",
)


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


def vader_movie_ratings(task: TaskConfig):
    """Movie-review snippets with the mean sentiment of about 19 raters on -4..+4 (VADER's ground truth): regression."""
    return _vader_snippets(str(VADER_RATINGS_TAR.locate("task.kind=vader_movie_ratings"))).copy()


@functools.cache
def _vader_snippets(path: str):
    """``id<TAB>mean<TAB>text`` lines (CRLF) of one member of the tarball, read without unpacking it (1.4 MB)."""
    import tarfile

    import pandas as pd

    with tarfile.open(path) as archive:
        handle = archive.extractfile(VADER_MOVIE_SNIPPETS)
        if handle is None:
            raise ConfigError("task.kind", f"{path} has no {VADER_MOVIE_SNIPPETS}", "vader_movie_ratings")
        lines = handle.read().decode("utf-8").splitlines()
    rows = [line.split("\t", 2) for line in lines if line.strip()]
    return pd.DataFrame({"text": [row[2] for row in rows], "label": [float(row[1]) for row in rows]})


def debian_tags(task: TaskConfig):
    """Debian programs' descriptions with the Debtags that say what they do (multi-label), grouped by source
    package: binaries built from one source share wording, and never straddle two splits."""
    labels = tuple(task.labels) if task.labels is not None else DEBTAGS_LABELS
    return _debian_programs(str(DEBIAN_DESCRIPTIONS.locate("task.kind=debian_tags")), labels, task.label_separator).copy()


@functools.cache
def _debian_programs(path: str, labels: tuple[str, ...], separator: str):
    """Packages tagged role::program with at least one of ``labels`` (tags cut to facet::value), their labels
    joined by ``separator`` in sorted order; the others are dropped."""
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    wanted = set(labels)

    def label_cell(cell: str) -> str:
        tags = [tag.strip() for tag in cell.split(",")]
        if "role::program" not in tags:
            return ""
        cut = {"::".join([facet, value.split(":")[0]]) for facet, _, value in (tag.partition("::") for tag in tags)}
        return separator.join(sorted(cut & wanted))

    frame = frame.assign(label=frame["tags"].map(label_cell))
    frame = frame[frame["label"] != ""]
    return frame.rename(columns={"source": "group"})[["text", "label", "group"]].reset_index(drop=True)


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
    from sweep.task_types import TASK_TYPES

    # role -> the config key naming its column: a generation type's are its own (task.source_column, ...)
    text_key, label_key = TASK_TYPES.get(task.type).columns
    keys = {"text": text_key, "label": label_key, "group": "group_column", "split": "split_column", "text_pair": "text_pair_column"}
    wanted = {role: getattr(task, key) for role, key in keys.items()}
    # labels as text: a numeric column with a blank cell would otherwise read as floats ("1.0")
    as_text = {wanted["label"]: "string"}
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

    columns = list(frame.columns)
    for role, column in wanted.items():  # text_pair: a second text per row (sentence pairs), None: one
        if column is not None and column not in columns:
            raise ConfigError(f"task.{keys[role]}", f"no such column in {path.name}; columns: {', '.join(map(str, columns))}", column)
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
