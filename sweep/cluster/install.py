"""What the cluster needs from this machine, and installing it: Debian packages through apt-get (as root),
the Python packages through the project's own dependencies.

Missing things are named exactly (the commands and the packages that bring them) with the command that
gets them; exit code 2 when this run cannot get them itself.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from sweep.cluster.errors import ClusterError
from sweep.cluster.processes import run

# beyond each service's own commands: running daemons as their users
COMMON = {"/usr/sbin/runuser": "util-linux"}
PYTHON = ("mlflow", "optuna", "psycopg")  # the server, the schemas, the connection checks: sweep's own dependencies
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
WHY_ROOT = "munged runs as the munge user and PostgreSQL as postgres (through runuser), slurmd as root"


def missing_commands(requires: dict[str, str]) -> dict[str, str]:
    return {command: package for command, package in {**COMMON, **requires}.items() if not os.access(command, os.X_OK)}


def missing_python() -> list[str]:
    return [name for name in PYTHON if importlib.util.find_spec(name) is None]


def _apt_command(packages: list[str]) -> str:
    return f"apt-get update && apt-get install -y --no-install-recommends {' '.join(packages)}"


def describe(missing: dict[str, str]) -> str:
    by_package: dict[str, list[str]] = {}
    for command, package in missing.items():
        by_package.setdefault(package, []).append(Path(command).name)
    return "; ".join(f"{', '.join(commands)} (Debian package {package})" for package, commands in sorted(by_package.items()))


def python_message(absent: list[str]) -> str:
    return f"missing Python packages: {', '.join(absent)} (sweep's dependencies); install them with: {sys.executable} -m pip install -e ."


def ensure(requires: dict[str, str], log: Path, say=print) -> None:
    """Install the missing Debian packages (root only), or raise a ClusterError (exit 2) naming them."""
    missing, absent = missing_commands(requires), missing_python()
    if os.geteuid() != 0:
        lines = [f"python -m sweep.cluster needs root: {WHY_ROOT}."]
        if missing:
            packages = sorted(set(missing.values()))
            lines.append(f"Missing too: {describe(missing)}.")
            lines.append(f"As root, `python -m sweep.cluster up` installs them, or: sudo sh -c '{_apt_command(packages)}'")
        if absent:
            message = python_message(absent)
            lines.append(f"{message[0].upper()}{message[1:]}.")
        lines.append("Run it as root (e.g. sudo -E env PATH=$PATH python -m sweep.cluster up).")
        raise ClusterError("\n".join(lines), exit_code=2)
    if absent:
        raise ClusterError(python_message(absent), exit_code=2)
    if not missing:
        return
    packages = sorted(set(missing.values()))
    if not shutil.which("apt-get"):
        raise ClusterError(f"missing: {describe(missing)}; this machine has no apt-get to install them: install {', '.join(packages)} "
                           "(SLURM 22.05, munge, PostgreSQL 15) with its package manager", exit_code=2)  # fmt: skip
    say(f"installing Debian packages: {' '.join(packages)} (apt-get; log {log})")
    env = {**os.environ, **APT_ENV}
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=300"]  # another apt (an upgrade, another session) holds it for a while
    run(["apt-get", *wait_for_lock, "update"], log, "apt-get update", env=env, timeout=900)
    run(["apt-get", *wait_for_lock, "install", "-y", "--no-install-recommends", *packages], log, "apt-get install", env=env, timeout=1500)
    still = missing_commands(requires)
    if still:
        raise ClusterError(f"apt-get installed {' '.join(packages)} but these are still missing: {describe(still)}", exit_code=2)
