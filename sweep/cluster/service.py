"""The interface every service of the cluster implements, and the registry that orders them.

A service is a daemon (or a small family of processes) with its own folder under the cluster root, a log
file, the Debian packages that bring its commands, the ports it needs, and start/stop/answer checks.
The cluster (cluster.py) lists them in start order; ``down`` stops them in reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sweep.cluster.processes import alive, read_pid, tree_rss_mb
from sweep.cluster.settings import ClusterSettings


@dataclass(frozen=True)
class Port:
    number: int
    flag: str  # the option that changes it, named in the "port taken" message


@dataclass(frozen=True)
class State:
    """One line of ``status``."""

    name: str
    running: bool
    where: str
    pid: int | None
    rss_mb: float | None

    def line(self) -> str:
        state = "running" if self.running else "stopped"
        pid = f"pid {self.pid}" if self.running and self.pid else ""
        rss = f"rss {self.rss_mb:.0f} MB" if self.running and self.rss_mb is not None else ""
        return f"{self.name:<10} {state:<8} {self.where:<58} {pid:<10} {rss}".rstrip()


class Service:
    name: ClassVar[str]
    folder_name: ClassVar[str]  # under the cluster root, shared by services of one program (slurm)
    command_word: ClassVar[str]  # in the daemon's command line: guards against a stale pid file
    # absolute path of each command it needs -> the Debian package that installs it
    requires: ClassVar[dict[str, str]] = {}
    user: ClassVar[str | None] = None  # the account it runs as, when not root: its folders must be reachable

    def __init__(self, settings: ClusterSettings):
        self.settings = settings

    @property
    def folder(self) -> Path:
        return self.settings.root / self.folder_name

    @property
    def log_file(self) -> Path:
        return self.folder / f"{self.name}.log"

    def ports(self) -> list[Port]:
        return []

    def where(self) -> str:
        raise NotImplementedError

    def pid(self) -> int | None:
        """The running daemon's pid (from its pid file); None when it does not run."""
        raise NotImplementedError

    def start(self) -> None:
        """Start it and wait until it answers; a ClusterError (with its log's last lines) otherwise."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def check(self) -> str | None:
        """None when it answers as a client would use it, else why not (one line)."""
        return None if self.pid() else "not running"

    def ensure(self) -> None:
        """Done on every ``up``, also when the service already runs (e.g. the system-wide slurm.conf link)."""

    def running(self) -> bool:
        return self.pid() is not None

    def state(self) -> State:
        pid = self.pid()
        return State(self.name, pid is not None, self.where(), pid, tree_rss_mb(pid) if pid else None)

    def _pid_from(self, pid_file: Path) -> int | None:
        pid = read_pid(pid_file)
        return pid if alive(pid, self.command_word) else None
