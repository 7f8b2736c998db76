"""``paths.output_dir``: the folder every entry point writes under (run folders, the embedded MLflow and
Optuna stores, caches, reports), checked before any run or study is touched; and the words for a disk
that fills up later, while a job runs.

A folder that cannot take the runs is bad input (one line, exit 2), however it fails: it cannot be
created (``/proc/nope``, a parent that is a file), it is not a folder, nothing can be written in it (a
read-only mount, no permission), or its disk is full (less than ``MIN_FREE_BYTES`` free). The check
writes a probe file in the folder (or, if it is missing, in the folder it would be made in) and removes it.

Where it runs: ``validate`` (sweep/pipeline/validate.py: every job, a grid's and a search's first check,
the night's, each candidate of sweep.select), ``OutputDirCheck`` (a Hydra callback: Hydra makes its run
folder under the output folder before the app's own code runs), and sweep.report for its folder.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
from pathlib import Path

from hydra.experimental.callback import Callback

from sweep.config.errors import ConfigError

# less than this free and the disk counts as full: a run's folder, its store rows and logs need about
# this much before any model or cache is written (a kept model needs far more; its save says so itself)
MIN_FREE_BYTES = 1 << 20
# the words of a full disk: the kernel's (ENOSPC, EDQUOT) and sqlite's, whose own errors carry no errno
FULL_DISK_WORDS = ("no space left on device", "disk quota exceeded", "database or disk is full")


def check_output_dir(path: str, key: str = "paths.output_dir") -> None:
    """Raise ConfigError(``key``) unless runs can be written under ``path``. A missing folder is not made
    (bad input elsewhere must leave nothing behind): the probe goes where it would be made, in the nearest
    folder that exists."""
    folder = Path(path)  # as the entry points write there: no ~ expansion
    if folder.exists() and not folder.is_dir():
        raise ConfigError(key, "not a folder (a file of that name is there)", path)
    where = folder
    while not where.exists() and where != where.parent:
        where = where.parent
    if not where.is_dir():
        raise ConfigError(key, f"cannot create the folder: {where} is not a folder", path)
    cannot = "cannot write in it" if where == folder else "cannot create the folder"
    try:
        handle, probe = tempfile.mkstemp(prefix=".sweep-write-probe-", dir=where)
    except OSError as e:
        raise ConfigError(key, f"{cannot}: {reason(e)}", path) from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(b"sweep")
            file.flush()
            os.fsync(file.fileno())  # a disk that accepts the write into memory only says so here
    except OSError as e:
        raise ConfigError(key, f"{cannot}: {reason(e)}", path) from None
    finally:
        Path(probe).unlink(missing_ok=True)
    free = shutil.disk_usage(where).free
    if free < MIN_FREE_BYTES:
        raise ConfigError(key, f"no space left on device: {size(free)} free, at least {size(MIN_FREE_BYTES)} needed", path)


def reason(error: OSError) -> str:
    """The system's words for ``error`` (``Read-only file system``), without Python's ``[Errno 30]``."""
    return error.strerror or str(error)


def size(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} GiB"  # pragma: no cover


def disk_full(error: BaseException) -> BaseException | None:
    """The error in ``error``'s chain (causes and contexts) that says a disk is full, else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return error
        if is_disk_full(str(error)):
            return error
        error = error.__cause__ or error.__context__
    return None


def is_disk_full(text: str | None) -> bool:
    """Whether an error's text (a run's error tag, a trial's error) says a disk is full."""
    lowered = (text or "").lower()
    return any(words in lowered for words in FULL_DISK_WORDS)


def describe_disk_full(error: BaseException, output_dir: str | None) -> str | None:
    """One line for a job stopped by a full disk: what could not be written, and the free space now on that
    file's disk (on the output folder's where the error names no file); None if ``error`` is no full disk."""
    full = disk_full(error)
    if full is None:
        return None
    written = None
    if isinstance(full, OSError):
        written = getattr(full, "filename2", None) or full.filename  # a copy names its target second
        what = f"{full.strerror or 'No space left on device'}: {written}" if written else (full.strerror or str(full))
    elif "database or disk is full" in str(full).lower():  # sqlite's (its first line may be SQLAlchemy's note on autoflush)
        what = "a store could not write: database or disk is full"
    else:  # a library's own words (safetensors: "I/O error: No space left on device (os error 28)")
        what = next(line for line in str(full).splitlines() if is_disk_full(line)).strip()
    line = f"{type(full).__name__}: {what}"
    if written is not None:
        line += free_now(Path(os.fsdecode(written)).parent, str(Path(os.fsdecode(written)).parent))
    elif output_dir:
        line += free_now(Path(output_dir), f"paths.output_dir={output_dir}")
    return line


def free_now(folder: Path, shown: str) -> str:
    while not folder.exists() and folder != folder.parent:  # a folder the failed write did not get to make
        folder = folder.parent
    try:
        return f" ({shown}: {size(shutil.disk_usage(folder).free)} free now)"
    except OSError:
        return ""


class OutputDirCheck(Callback):
    """Hydra callback (hydra.callbacks in conf/): the output folder checked before Hydra makes its run
    folder in it (a single run) or anything of a sweep starts (a grid's parent run, a search's study).
    Hydra turns a callback's exceptions into warnings, so bad input exits here: one line, exit 2."""

    def on_run_start(self, config, **kwargs) -> None:
        self._check(config)

    def on_multirun_start(self, config, **kwargs) -> None:
        self._check(config)

    @staticmethod
    def _check(config) -> None:
        from omegaconf import OmegaConf

        from sweep.config.secrets import mask_secrets

        try:
            output_dir = OmegaConf.select(config, "paths.output_dir", throw_on_missing=True)
        except Exception:  # an interpolation that cannot resolve: the config's own check reports it
            return
        if output_dir is None:
            return
        try:
            check_output_dir(str(output_dir))
        except ConfigError as error:
            print(f"error: {mask_secrets(str(error))}", file=sys.stderr)
            sys.exit(2)
