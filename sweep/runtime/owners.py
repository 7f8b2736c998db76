"""Which process owns a run or a trial, and whether that process is still alive.

A pid means something only inside one PID namespace of one boot of one machine: containers that share
a hostname but not a PID namespace (or a machine rebooted since) would otherwise see each other's live
processes as dead, or a recycled pid as alive. So an owner records host, boot id, PID namespace, pid
and the process' start time, and is judged here only when all of the first three are ours. Elsewhere
``alive`` says None (cannot tell) and callers fall back to heartbeats.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

import psutil


@functools.cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:  # not Linux: the boot time stands in
        return f"boot@{int(psutil.boot_time())}"


@functools.cache
def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")  # e.g. pid:[4026531836]
    except OSError:
        return "pid:host"


def this_process() -> dict:
    return {
        "host": socket.gethostname(),
        "boot": _boot_id(),
        "pidns": _pid_namespace(),
        "pid": os.getpid(),
        "started": psutil.Process().create_time(),
    }


def same_machine(owner: dict) -> bool:
    """Whether ``owner``'s pid can be looked up here: same host, same boot, same PID namespace."""
    here = this_process()
    return all(owner.get(key) == here[key] for key in ("host", "boot", "pidns"))


def alive(owner: dict | None) -> bool | None:
    """True or False for an owner on this machine; None where only a heartbeat can tell."""
    if not owner or not same_machine(owner):
        return None
    try:
        return abs(psutil.Process(int(owner["pid"])).create_time() - float(owner["started"])) < 1.0
    except (psutil.NoSuchProcess, KeyError, TypeError, ValueError):
        return False


def label(owner: dict) -> str:
    return f"{owner.get('host', '?')}:{owner.get('pid', '?')}"
