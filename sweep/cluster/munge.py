"""munged: the credential service SLURM authenticates with. Its key, socket, pid and log are ours, under
``<root>/munge`` (the system's /etc/munge and /run/munge stay untouched), and slurm.conf names our socket."""

from __future__ import annotations

from pathlib import Path

from sweep.cluster.processes import chown, run, terminate
from sweep.cluster.service import Service


class Munge(Service):
    name = "munged"
    folder_name = "munge"
    command_word = "munged"
    requires = {"/usr/sbin/munged": "munge", "/usr/sbin/mungekey": "munge", "/usr/bin/munge": "munge"}
    user = "munge"  # munged refuses to run as root

    @property
    def socket(self) -> Path:
        return self.folder / "munge.socket"

    @property
    def key(self) -> Path:
        return self.folder / "munge.key"

    @property
    def pid_file(self) -> Path:
        return self.folder / "munged.pid"

    def where(self) -> str:
        return f"socket {self.socket}"

    def pid(self) -> int | None:
        return self._pid_from(self.pid_file)

    def start(self) -> None:
        # munged checks its folders: owned by munge, not writable by others, and the socket's folder
        # must be searchable by everyone (every SLURM client talks to the socket)
        chown(self.folder, "munge", 0o755)
        if not self.key.exists():
            run(
                ["/usr/sbin/mungekey", "--create", f"--keyfile={self.key}"],
                self.folder / "start.log",
                "creating the munge key",
                user="munge",
            )
        command = [
            "/usr/sbin/munged",
            f"--key-file={self.key}",
            f"--socket={self.socket}",
            f"--pid-file={self.pid_file}",
            f"--log-file={self.log_file}",
            f"--seed-file={self.folder / 'munged.seed'}",
        ]
        run(command, self.folder / "start.log", "munged", user="munge")  # returns once the socket is ready

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            terminate(pid)

    def check(self) -> str | None:
        if not self.pid():
            return "not running"
        import subprocess

        done = subprocess.run(["/usr/bin/munge", "-n", "-S", str(self.socket)], capture_output=True, timeout=10)
        return None if done.returncode == 0 else f"munge -n failed: {done.stderr.decode(errors='replace').strip()}"
