"""The single-node cluster as one object: ``Cluster().up()``, ``.down()``, ``.status()`` and the URLs jobs need.

Used by ``python -m sweep.cluster`` and by tests and other code (e.g. the nightly runner), which may
start it in-process or read the URLs of one started by the CLI (the saved ``<root>/cluster.json``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

from sweep.cluster.errors import ClusterError
from sweep.cluster.mlflow_server import MlflowServer
from sweep.cluster.munge import Munge
from sweep.cluster.postgres import Postgres
from sweep.cluster.processes import port_in_use, reachable_by
from sweep.cluster.service import Service, State
from sweep.cluster.settings import SETTINGS, ClusterSettings
from sweep.cluster.slurm import SlurmController, SlurmNode, unlink_system_conf

# start order: SLURM authenticates through munge; the MLflow server stores in PostgreSQL
SERVICES: tuple[type[Service], ...] = (Munge, SlurmController, SlurmNode, Postgres, MlflowServer)


class Cluster:
    def __init__(self, settings: ClusterSettings | None = None, **flags):
        """``flags``: ``root``, ``running`` and the ports of ClusterSettings.resolve; unset ones come from the
        environment, then from the last ``up`` in that root, then the defaults."""
        self.settings = settings or ClusterSettings.resolve(**flags)
        self.services = [cls(self.settings) for cls in SERVICES]

    # what users and jobs need
    @property
    def root(self) -> Path:
        return self.settings.root

    @property
    def storage_url(self) -> str:
        return self.settings.storage_url

    @property
    def tracking_uri(self) -> str:
        return self.settings.tracking_uri

    @property
    def partition(self) -> str:
        return self.settings.partition

    @property
    def slurm_conf(self) -> Path:
        return self.settings.slurm_conf

    def overrides(self) -> str:
        """What to add to a ``python -m sweep.run`` command line."""
        return f"search.storage={self.storage_url} tracking.uri={self.tracking_uri}"

    def status(self) -> list[State]:
        return [service.state() for service in self.services]

    def running(self) -> bool:
        return all(service.running() for service in self.services)

    def up(self, say: Callable[[str], None] = print) -> None:
        """Start what does not run (what runs is kept); return once every service answers."""
        from sweep.cluster import install
        from sweep.cluster.schemas import optuna_schema

        requires = {command: package for service in self.services for command, package in service.requires.items()}
        install.ensure(requires, self.root / "install.log", say)
        self._check_folders()
        self._check_unchanged()
        self._check_ports()
        self.settings.save()
        for service in self.services:
            if service.running():
                service.ensure()
                say(f"{service.name:<10} kept (pid {service.pid()})")
            else:
                started = time.monotonic()
                service.start()
                say(f"{service.name:<10} started in {time.monotonic() - started:.1f} s")
            if isinstance(service, Postgres):  # also when kept: an earlier `up` may have stopped before it
                optuna_schema(self.storage_url)
        failing = [(service, service.check()) for service in self.services]
        failing = [f"{service.name}: {why}" for service, why in failing if why]
        if failing:
            raise ClusterError("not answering: " + "; ".join(failing))

    def down(self, purge: bool = False, say: Callable[[str], None] = print) -> None:
        """Stop every service (idempotent); the data folders stay unless ``purge``."""
        running = [service for service in self.services if service.running()]
        if running and os.geteuid() != 0:
            raise ClusterError(
                f"python -m sweep.cluster down needs root: {', '.join(s.name for s in running)} run as other users", exit_code=2
            )
        for service in reversed(self.services):
            if service.running():
                started = time.monotonic()
                service.stop()
                say(f"{service.name:<10} stopped in {time.monotonic() - started:.1f} s")
        unlink_system_conf(self.slurm_conf)
        if purge and self.root.exists():
            if not (self.root / "cluster.json").exists():
                raise ClusterError(f"--purge: {self.root} has no cluster.json, so it is not a cluster folder: not deleting it", exit_code=2)
            shutil.rmtree(self.root)
            say(f"deleted {self.root}")

    def _check_folders(self) -> None:
        """munged and PostgreSQL run as their own users: every folder above theirs must let them through."""
        for service in self.services:
            if service.user:
                blocked = reachable_by(service.folder, service.user)
                if blocked:
                    mode = f"{blocked.stat().st_mode & 0o777:o}"
                    raise ClusterError(
                        f"the {service.user} user cannot enter {blocked} (mode {mode}), above {service.folder}: "
                        f"put the cluster elsewhere with --root DIR (e.g. /var/tmp/sweep-cluster), or allow it: chmod o+x {blocked}",
                        exit_code=2,
                    )

    def _check_unchanged(self) -> None:
        """A running cluster keeps its ports: a different one asked for would print URLs nothing serves."""
        if not any(service.running() for service in self.services):
            return
        saved = ClusterSettings.saved(self.root)
        changed = [f"{SETTINGS[name].flag} {saved[name]}" for name in saved if getattr(self.settings, name) != saved[name]]
        if changed:
            raise ClusterError(f"the cluster in {self.root} runs with {', '.join(changed)}: run `down` first to change it", exit_code=2)

    def _check_ports(self) -> None:
        """Every port of a service that does not run yet must be free: name the port and the flag to change it."""
        for service in self.services:
            if service.running():
                continue
            for port in service.ports():
                if port_in_use(port.number, self.settings.host):
                    env = next(s.env for s in SETTINGS.values() if s.flag == port.flag)
                    raise ClusterError(
                        f"port {port.number} ({service.name}) is already taken by another program{_owner(port.number)}; "
                        f"choose another with {port.flag} N (or {env}=N)",
                        exit_code=2,
                    )


def _owner(port: int) -> str:
    """`` (pid 123, postgres)`` when ``ss`` can tell who listens on the port; else nothing."""
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    import re

    found = re.search(r'users:\(\("([^"]+)",pid=(\d+)', out)
    return f" (pid {found.group(2)}, {found.group(1)})" if found else ""
