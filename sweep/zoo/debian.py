"""Data that a Debian package installs, found without root: where root's ``apt-get install`` put it, else in
this user's unpacked copy, fetched on first use with ``apt-get download`` + ``dpkg-deb -x`` (which need only
apt's package lists, not sudo: machines may have none). Set-up and tests never need root for data that only
some tasks read (Fashion-MNIST: sweep/zoo/assets.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sweep.zoo.first_use import FetchedOnFirstUse

log = logging.getLogger("sweep")


def debian_user_root() -> Path:
    """Where Debian packages fetched without root are unpacked: ``$XDG_CACHE_HOME/sweep/debian`` (default
    ``~/.cache/sweep/debian``), one tree per package. Outside ``paths.cache_dir`` on purpose: a reader gets only
    its task config, and one copy serves every checkout of the user (``make clean`` must not drop 31 MB of data)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sweep" / "debian"


class DebianFetchError(Exception):
    """``apt-get download`` or ``dpkg-deb -x`` failed; the message is one line (apt's own error where it gave one)."""


@dataclass(frozen=True)
class DebianFile(FetchedOnFirstUse):
    """A file or folder that a Debian package installs, outside any Python environment.

    Found where root's ``apt-get install`` put it (``system_root`` + ``path``), else in this user's unpacked copy
    of the package (``user_tree`` + ``path``). When neither exists, ``locate`` fetches the copy without root:
    ``apt-get download`` + ``dpkg-deb -x`` need only apt's package lists, not sudo (machines may have none),
    so set-up and tests never need root for data that only some tasks read.
    """

    failure: ClassVar[type[Exception]] = DebianFetchError

    package: str
    path: str  # absolute, where the package installs it
    system_root: str = "/"  # where dpkg unpacks as root; a field so that tests can hide the system copy
    user_root: str | None = None  # None: debian_user_root(); a field so that tests can fetch into a temp folder

    @property
    def system_path(self) -> Path:
        return Path(self.system_root) / self.path.lstrip("/")

    @property
    def user_tree(self) -> Path:
        """The package's whole tree as ``dpkg-deb -x`` unpacks it (usr/share/...), so ``path`` keeps its layout."""
        return Path(self.user_root or debian_user_root()) / self.package

    @property
    def user_path(self) -> Path:
        return self.user_tree / self.path.lstrip("/")

    @property
    def install_command(self) -> str:
        """As root (with sudo where there is one)."""
        return f"apt-get install -y {self.package}"

    @property
    def user_install_command(self) -> str:
        """As any user: what ``fetch`` runs."""
        deb, tree = f"{self.package}_*.deb", self.user_tree  # dpkg-deb -x makes the last folder only
        return f'cd "$(mktemp -d)" && apt-get download {self.package} && mkdir -p {tree} && dpkg-deb -x {deb} {tree}'

    def find(self) -> Path | None:
        """The system copy, else the user's copy, else None; never fetches."""
        return next((path for path in (self.system_path, self.user_path) if path.exists()), None)

    def missing(self, error: Exception) -> str:
        return (
            f"data of Debian package {self.package} is in neither {self.system_path} nor {self.user_path}, and fetching it"
            f" without root failed ({error}); install it as root: {self.install_command} (apt-get update first on a fresh"
            f" machine), or as this user: {self.user_install_command}"
        )

    def fetch(self, timeout: float = 600) -> Path:
        """Download the package and unpack it into ``user_tree`` without root; raises DebianFetchError.

        Unpacked into a sibling folder, then renamed into place: trials that ask at once never read half a tree,
        and the first rename wins."""
        log.info("fetching Debian package %s without root into %s (once)", self.package, self.user_tree)
        try:
            return self._fetch(timeout)
        except OSError as error:  # an unwritable cache folder, a full disk: one line too
            raise DebianFetchError(f"{type(error).__name__}: {error}") from None

    def _fetch(self, timeout: float) -> Path:
        self.user_tree.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{self.package}-", dir=self.user_tree.parent) as scratch:
            _run(["apt-get", "download", self.package], cwd=scratch, timeout=timeout)
            debs = sorted(Path(scratch).glob(f"{self.package}_*.deb"))
            if not debs:
                raise DebianFetchError(f"apt-get download left no {self.package}_*.deb")
            unpacked = Path(scratch) / "tree"
            _run(["dpkg-deb", "-x", str(debs[-1]), str(unpacked)], cwd=scratch, timeout=timeout)
            if not (unpacked / self.path.lstrip("/")).exists():
                raise DebianFetchError(f"package {self.package} has no {self.path}")
            try:
                unpacked.rename(self.user_tree)
            except OSError:  # another process renamed its copy first, or an old incomplete tree is in the way
                if not self.user_path.exists():
                    raise DebianFetchError(f"{self.user_tree} exists without {self.path}: remove it and retry") from None
        return self.user_path


def _run(command: list[str], cwd: str, timeout: float) -> None:
    """Run a command quietly; any failure (missing program, exit status, time-out) is one DebianFetchError line."""
    if shutil.which(command[0]) is None:
        raise DebianFetchError(f"{command[0]} not found: not a Debian-based system")
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError) as error:
        raise DebianFetchError(f"{command[0]}: {error}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("E:")] or lines[-1:]  # apt's own "E: ..." lines say why
        raise DebianFetchError(f"`{' '.join(command)}` exited {done.returncode}: {'; '.join(errors) or 'no output'}")


# only the vision task (task.kind=fashion_mnist) reads it: never part of set-up (sweep/zoo/install.py)
