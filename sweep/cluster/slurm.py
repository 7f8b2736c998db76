"""SLURM's two daemons on this machine: slurmctld (the controller) and slurmd (the one node).

Both read our slurm.conf (slurm_conf.py) through ``-f``. SLURM's clients (sbatch, squeue, scancel, and
submitit, which calls them) read /etc/slurm/slurm.conf unless SLURM_CONF is set: when that path is free we
link it to our file, so they work without anyone exporting anything; ``down`` removes our link.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sweep.cluster.errors import ClusterError
from sweep.cluster.munge import Munge
from sweep.cluster.processes import run, tail, terminate, wait_until
from sweep.cluster.service import Port, Service
from sweep.cluster.slurm_conf import node_name, slurm_conf

SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
# node states in which the node takes jobs (sinfo %T; a trailing * means slurmd does not answer)
SERVING = ("idle", "mixed", "allocated", "completing")


def client_env(conf: Path) -> dict[str, str]:
    """The environment for our own calls of SLURM's clients: they talk to our controller in any case."""
    return {**os.environ, "SLURM_CONF": str(conf)}


def link_system_conf(conf: Path) -> str | None:
    """Point /etc/slurm/slurm.conf at ``conf`` when it is absent, a broken link or already ours; otherwise
    leave it and return a warning (someone else's SLURM config is not ours to replace)."""
    if SYSTEM_CONF.is_symlink():
        if SYSTEM_CONF.resolve() == conf.resolve():
            return None
        if not SYSTEM_CONF.exists():
            SYSTEM_CONF.unlink()  # a broken link: its cluster root was deleted
    if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
        return f"warning: {SYSTEM_CONF} is not ours and stays as it is; SLURM clients need SLURM_CONF={conf} to reach this cluster"
    SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SYSTEM_CONF.symlink_to(conf)
    return None


def unlink_system_conf(conf: Path) -> None:
    if SYSTEM_CONF.is_symlink() and Path(os.readlink(SYSTEM_CONF)) == conf:
        SYSTEM_CONF.unlink()


class SlurmController(Service):
    name = "slurmctld"
    folder_name = "slurm"
    command_word = "slurmctld"
    requires = {
        "/usr/sbin/slurmctld": "slurmctld",
        "/usr/bin/sbatch": "slurm-client",
        "/usr/bin/squeue": "slurm-client",
        "/usr/bin/scancel": "slurm-client",
        "/usr/bin/scontrol": "slurm-client",
        "/usr/bin/sinfo": "slurm-client",
    }

    def ports(self) -> list[Port]:
        return [Port(self.settings.slurmctld_port, "--slurmctld-port")]

    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.slurmctld_port} partition {self.settings.partition}"

    def pid(self) -> int | None:
        return self._pid_from(self.folder / "slurmctld.pid")

    def start(self) -> None:
        conf = self.settings.slurm_conf
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        conf.write_text(slurm_conf(self.settings, Munge(self.settings).socket))
        self.ensure()
        run(["/usr/sbin/slurmctld", "-f", str(conf)], self.folder / "start.log", "slurmctld")
        if not wait_until(lambda: self.check() is None, 30, 0.2):
            raise ClusterError(f"slurmctld does not answer `scontrol ping`; last lines of {self.log_file}:\n{tail(self.log_file)}")

    def ensure(self) -> None:
        warning = link_system_conf(self.settings.slurm_conf)
        if warning:
            print(warning, file=sys.stderr)

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            terminate(pid)  # it saves its state (queued jobs) for the next start
        unlink_system_conf(self.settings.slurm_conf)

    def check(self) -> str | None:
        if not self.pid():
            return "not running"
        done = _client(["/usr/bin/scontrol", "ping"], self.settings.slurm_conf)
        return None if done.returncode == 0 and "UP" in done.stdout else f"scontrol ping: {(done.stdout + done.stderr).strip()}"


class SlurmNode(Service):
    name = "slurmd"
    folder_name = "slurm"
    command_word = "slurmd"
    requires = {"/usr/sbin/slurmd": "slurmd"}

    def ports(self) -> list[Port]:
        return [Port(self.settings.slurmd_port, "--slurmd-port")]

    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.slurmd_port} node {node_name()}"

    def pid(self) -> int | None:
        return self._pid_from(self.folder / "slurmd.pid")

    def start(self) -> None:
        run(["/usr/sbin/slurmd", "-f", str(self.settings.slurm_conf)], self.folder / "start.log", "slurmd")
        if not wait_until(lambda: self.check() is None, 30, 0.2):
            raise ClusterError(f"slurmd: {self.check()}; last lines of {self.log_file}:\n{tail(self.log_file)}")

    def stop(self) -> None:
        pid = self.pid()
        if not pid:
            return
        # jobs' processes belong to slurmstepd, not slurmd: cancel them, or they outlive the cluster
        if SlurmController(self.settings).pid():
            conf = self.settings.slurm_conf
            if _client(["/usr/bin/squeue", "-h", "-o", "%i"], conf).stdout.strip():
                _client(["/usr/bin/scancel", f"--partition={self.settings.partition}"], conf)
                wait_until(lambda: not _client(["/usr/bin/squeue", "-h", "-o", "%i"], conf).stdout.strip(), 15, 0.3)
        terminate(pid)

    def check(self) -> str | None:
        if not self.pid():
            return "not running"
        done = _client(["/usr/bin/sinfo", "-h", "-N", "-n", node_name(), "-o", "%T|%E"], self.settings.slurm_conf)
        state, _, reason = done.stdout.strip().partition("|")
        if done.returncode == 0 and state in SERVING:
            return None
        return (
            f"node {node_name()} is {state or 'unknown'}"
            + (f" ({reason})" if reason and reason != "none" else "")
            + (f" {done.stderr.strip()}" if done.stderr.strip() else "")
        )


def _client(command: list[str], conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=client_env(conf), timeout=20)
