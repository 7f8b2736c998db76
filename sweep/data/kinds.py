"""Task kinds (``task.kind``): where a task's raw rows come from, and what those rows are.

A kind is a reader plus its modality (text or image), so the config check can tell, before anything
is read, that a text model was given an image task. Readers live by modality: sweep/data/sources.py
(text) and sweep/data/image_sources.py (images); importing this module registers them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sweep.registry import Registry


@dataclass(frozen=True)
class TaskKind:
    read: Callable[[Any], Any]  # TaskConfig -> a DataFrame (text) or ImageRows (images)
    modality: str


TASK_KINDS: Registry[TaskKind] = Registry("task.kind")


def task_kind(name: str, modality: str):
    """Decorator: register a reader as task kind ``name``."""

    def add(read: Callable) -> Callable:
        TASK_KINDS.register(name)(TaskKind(read, modality))
        return read

    return add


TASK_KINDS.register("multi")(TaskKind(read=None, modality="text"))  # a stack of other tasks: sweep/data/multitask.py

from sweep.data import image_sources, sources  # noqa: E402, F401  (register their kinds; they need TASK_KINDS defined)
