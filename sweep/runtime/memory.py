"""Give a finished job's memory back, so the next job of an in-process grid or search starts where the
first one did.

Nothing of a job stays referenced after it (models, optimizer states, loaders are all freed: the
garbage collector finds no module or tensor left), yet the process' RSS grew by 30 to 100 MB per job:
glibc keeps freed heap pages in its arenas. ``malloc_trim`` hands them back to the system.

The full collection that finds a job's cyclic garbage walked every object of the process: torch,
transformers, Lightning and MLflow's modules, 0.4 s per trial of a search. After the first job, what
survives a collection is the process' long-lived state (modules, in-process caches): ``gc.freeze`` moves
it out of the collector's sight, so later collections walk one job's objects only. (Frozen objects are
still freed by reference counting; only a cycle among them, none of them a job's, would stay.)
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None  # glibc only


def release_memory() -> None:
    gc.collect()
    if not gc.get_freeze_count():  # the first job's end: the imports and caches are all in place now
        gc.freeze()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@contextlib.contextmanager
def released():
    """Around one job: its memory is given back when it ends, however it ends."""
    try:
        yield
    finally:
        release_memory()
