"""``mlflow server``: PostgreSQL as its backend store, and artifacts served by the server itself from
``<root>/mlflow/artifacts`` (``--artifacts-destination``), so a job on any node uploads through HTTP and
needs no shared folder."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

from sweep.cluster.errors import ClusterError
from sweep.cluster.processes import alive, tail, terminate, wait_until
from sweep.cluster.schemas import mlflow_schema
from sweep.cluster.service import Port, Service


class MlflowServer(Service):
    name = "mlflow"
    folder_name = "mlflow"
    command_word = "mlflow"

    @property
    def pid_file(self):
        return self.folder / "server.pid"

    def ports(self) -> list[Port]:
        return [Port(self.settings.mlflow_port, "--mlflow-port")]

    def where(self) -> str:
        return f"{self.settings.tracking_uri} store {self.settings.mlflow_store_url}"

    def pid(self) -> int | None:
        return self._pid_from(self.pid_file)

    def start(self) -> None:
        (self.folder / "artifacts").mkdir(parents=True, exist_ok=True)
        mlflow_schema(self.settings.mlflow_store_url, self.folder / "db-upgrade.log", self.folder / "schema.stamp")
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", self.settings.mlflow_store_url,
            "--artifacts-destination", str(self.folder / "artifacts"),
            "--host", self.settings.host,
            "--port", str(self.settings.mlflow_port),
            "--workers", str(self.settings.mlflow_workers),
        ]  # fmt: skip
        # MLflow 3's GenAI job runner starts seven more Python processes (~1.1 GB) that sweep never uses
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.log_file, "ab") as log:
            # its own session: it outlives this command, and `down` ends its whole process group
            server = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.pid_file.write_text(f"{server.pid}\n")
        if not wait_until(lambda: self.check() is None or server.poll() is not None, 120, 0.3) or server.poll() is not None:
            self.stop()
            health = f"{self.settings.tracking_uri}/health"
            raise ClusterError(f"mlflow server did not answer on {health}; last lines of {self.log_file}:\n{tail(self.log_file)}")

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            terminate(pid, group=True)  # the uvicorn workers are in its process group
        self.pid_file.unlink(missing_ok=True)

    def check(self) -> str | None:
        if not alive(self.pid(), self.command_word):
            return "not running"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
        try:
            with opener.open(f"{self.settings.tracking_uri}/health", timeout=3) as answer:
                body = answer.read().decode(errors="replace").strip()
        except OSError as error:
            return f"/health: {error}"
        return None if body == "OK" else f"/health answered {body!r}"
