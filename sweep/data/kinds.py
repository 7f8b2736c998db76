"""Task kinds (``task.kind``): where a task's raw rows come from, and what those rows are.

A kind is a reader plus its modality (text or image), so the config check can tell, before anything
is read, that a text model was given an image task. Readers live by modality: sweep/data/sources.py
(text) and sweep/data/image_sources.py (images); this file lists them all, once. Light: the readers
import pandas when they run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sweep.config.registry import Registry
from sweep.data import image_sources, sources


@dataclass(frozen=True)
class TaskKind:
    read: Callable[[Any], Any] | None  # TaskConfig -> a DataFrame (text) or ImageRows (images); None: multi
    modality: str


TASK_KINDS: Registry[TaskKind] = Registry(
    "task.kind",
    {
        "rotten_tomatoes": TaskKind(sources.rotten_tomatoes, "text"),
        "csv": TaskKind(sources.user_file, "text"),
        "fashion_mnist": TaskKind(image_sources.fashion_mnist, "image"),
        "mnist": TaskKind(image_sources.mnist_5k, "image"),
        "digits": TaskKind(image_sources.digits, "image"),
        "multi": TaskKind(None, "text"),  # a stack of other tasks: sweep/data/multitask.py
    },
)
