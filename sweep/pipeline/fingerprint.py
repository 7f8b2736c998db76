"""What makes two jobs the same job: the key under which a finished run answers a job it matches (``search.reuse``,
sweep/tracking/reuse.py). Three parts, each a digest:

- **configuration**: the resolved config as the run records it (``trainer.monitor=auto`` as it became), without
  what only says where it is recorded or how it was launched: ``paths.*``, ``tracking.*``, ``trial.*``, ``hydra.*``,
  ``cluster.*``, ``search.*``, ``nightly.*`` (sweep/tracking/params.py ``trained_params``; numbers compared as
  numbers: a search's sampled ``0.0`` is a grid's ``0``). The seed is part of it: another seed is another job. So is the model's
  identity as its caches know it (sweep/zoo/loader.py ``source_fingerprint``: a local folder's weights by their
  modification times, a GGUF file by its own).
- **data**: the rows the job read, every split, as loaded (texts, word lists, image bytes, labels, sub-task ids,
  label names) before tokenisation. Not the task's config alone: the same ``task=csv task.path=x.csv`` after the
  file was edited, or a packaged corpus after its package was upgraded, is other data.
- **code**: every ``.py`` file of ``sweep/`` and ``lightning_modules/`` (their bytes), and the name and version of
  every installed distribution (torch, transformers, peft, the packages the assets come from ...). Any edit or
  upgrade makes every earlier run a stranger: conservative on purpose, a wrong answer costs more than a re-run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from sweep.tracking.params import flatten, trained_params

CODE_FOLDERS = ("sweep", "lightning_modules")


def configuration_digest(config: dict, model_identity: str) -> str:
    return _digest(json.dumps({"params": trained_params(flatten(config)), "model": model_identity}, sort_keys=True))


def data_digest(splits) -> str:
    """The rows of every split (sweep/data/labelled.py Splits), in order."""
    hasher = hashlib.sha256()
    hasher.update(json.dumps([splits.label_names, splits.task_names, splits.task_type, splits.sub_task_types]).encode())
    for name in ("train", "val", "test"):
        split = getattr(splits, name)
        hasher.update(f"|{name}:{len(split)}|".encode())
        for column in (split.inputs, split.labels, split.tasks, split.pairs):
            _update(hasher, column)
    return hasher.hexdigest()[:16]


@functools.cache
def code_digest() -> str:
    """Our sources and every installed distribution's version; once per process (a job's code cannot change under it)."""
    hasher = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for folder in CODE_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            hasher.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    hasher.update("\n".join(installed()).encode())
    return hasher.hexdigest()[:16]


def installed() -> list[str]:
    """Every distribution on the path as its metadata folder names it (``torch-2.13.0+cpu.dist-info``): the name and
    version ``importlib.metadata`` would read, in 1 ms rather than its 130 ms of parsing every METADATA file."""
    import sys

    found = set()
    for entry in sys.path:
        folder = Path(entry or ".")
        if folder.is_dir():
            found.update(name for name in os.listdir(folder) if name.endswith((".dist-info", ".egg-info")))
    return sorted(found)


def reuse_key(configuration: str, data: str, code: str) -> str:
    return _digest(f"{configuration}|{data}|{code}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _update(hasher, column) -> None:
    if column is None:
        hasher.update(b"<none>")
    elif isinstance(column, np.ndarray) and column.dtype != object:
        hasher.update(f"{column.dtype}{column.shape}".encode())
        hasher.update(np.ascontiguousarray(column).tobytes())
    else:  # texts, word lists, one tag array per sentence
        for row in column:
            if isinstance(row, np.ndarray):
                hasher.update(f"{row.dtype}{row.shape}".encode() + np.ascontiguousarray(row).tobytes())
            else:
                hasher.update(json.dumps(row, default=str).encode())
            hasher.update(b"\x1e")
