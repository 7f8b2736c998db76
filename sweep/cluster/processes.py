"""Small process helpers for daemons the cluster starts: pid files, liveness, memory, ports, log tails.

Only the standard library: ``python -m sweep.cluster --help`` and ``status`` must answer at once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

from sweep.cluster.errors import ClusterError


def read_pid(path: Path) -> int | None:
    """The first line of a pid file (PostgreSQL's postmaster.pid too); None when absent or unreadable."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int | None, command_word: str | None = None) -> bool:
    """Whether ``pid`` is a live process (not a zombie) whose command line contains ``command_word``.

    Zombies count as dead: a daemon killed by a parent that never reaps it stays in the table. The
    command check guards against a stale pid file whose number now belongs to another program.
    """
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and (command_word is None or command_word in cmdline)


def children(pid: int) -> list[int]:
    """``pid`` and all its descendants (a postmaster's backends, the MLflow server's workers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process tree in MB (shared pages counted in each process, as `ps` does)."""
    total_kb = 0
    for member in children(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def terminate(pid: int, group: bool = False, timeout: float = 15.0) -> None:
    """SIGTERM (to the process group when ``group``), wait, then SIGKILL: a daemon ends even when stuck."""
    kill = os.killpg if group else os.kill
    try:
        kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_until(lambda: not alive(pid), timeout):
        try:
            kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_until(lambda: not alive(pid), 5)
    try:  # our own child (the Python API started it in this process): reap it, or it stays a zombie
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on ``host:port`` (TCP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, indented, for an error message."""
    try:
        text = path.read_text(errors="replace").rstrip().splitlines()[-lines:]
    except OSError:
        return f"    (no log at {path})"
    return "\n".join(f"    {line}" for line in text) or f"    ({path} is empty)"


def run(command: Sequence[str], log: Path, what: str, user: str | None = None, env: dict | None = None, timeout: float = 120) -> None:
    """Run a command to its end (a daemon that forks away, initdb, pg_ctl), its output appended to ``log``;
    a failure raises a ClusterError that shows the log's last lines. ``user``: run as that user (runuser)."""
    argv = ["/usr/sbin/runuser", "-u", user, "--", *command] if user else list(command)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout, start_new_session=True
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{what}: no answer after {timeout:.0f} s; last lines of {log}:\n{tail(log)}") from None
    if done.returncode != 0:
        raise ClusterError(f"{what} failed (exit {done.returncode}); last lines of {log}:\n{tail(log)}")


def chown(path: Path, user: str, mode: int) -> None:
    """Make a folder for a daemon that runs as ``user`` (munge, postgres): it owns it, with ``mode``."""
    import pwd

    account = pwd.getpwnam(user)
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, account.pw_uid, account.pw_gid)
    path.chmod(mode)


def reachable_by(path: Path, user: str | None = None) -> Path | None:
    """The first folder above ``path`` that ``user`` cannot pass through (no x bit for it); None if all pass.
    ``user`` None: any account that owns none of them (munge and postgres before their packages exist).

    munged and PostgreSQL run as their own users and must reach their folders under the cluster root:
    a root under /root (mode 0700) fails there, so we say so before starting anything.
    """
    import grp
    import pwd

    uid, groups = -1, set()
    if user is not None:
        account = pwd.getpwnam(user)
        uid, groups = account.pw_uid, {account.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    for folder in [*reversed(path.parents), path]:
        try:
            info = folder.stat()
        except OSError:
            return None  # not made yet: we make it, with our own modes
        if info.st_uid == uid:
            bit = 0o100
        elif info.st_gid in groups:
            bit = 0o010
        else:
            bit = 0o001
        if not info.st_mode & bit:
            return folder
    return None
