"""PostgreSQL 15 with its own data folder (``<root>/postgres/data``) and port (5433 by default): the
Debian system cluster, if one runs on 5432, is left alone.

Authentication is ``trust`` (initdb --auth=trust): this is a dev/CI cluster listening on 127.0.0.1 only,
so anyone on this machine may connect as any role, and URLs carry no password. A real cluster uses
passwords (they are masked wherever sweep prints or records a URL: sweep/config/secrets.py).
"""

from __future__ import annotations

from sweep.cluster.errors import ClusterError
from sweep.cluster.processes import chown, read_pid, run, tail
from sweep.cluster.service import Port, Service

BIN = "/usr/lib/postgresql/15/bin"
ROLE = "sweep"
DATABASES = ("optuna", "mlflow")  # both owned by ROLE


class Postgres(Service):
    name = "postgres"
    folder_name = "postgres"
    command_word = "postgres"
    requires = {f"{BIN}/initdb": "postgresql-15", f"{BIN}/pg_ctl": "postgresql-15", f"{BIN}/postgres": "postgresql-15"}
    user = "postgres"

    @property
    def data(self):
        return self.folder / "data"

    def ports(self) -> list[Port]:
        return [Port(self.settings.pg_port, "--pg-port")]

    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.pg_port} data {self.data}"

    def pid(self) -> int | None:
        return self._pid_from(self.data / "postmaster.pid")

    def start(self) -> None:
        chown(self.folder, "postgres", 0o755)
        if not (self.data / "PG_VERSION").exists():
            initdb = [f"{BIN}/initdb", "-D", str(self.data), "--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C"]
            run(initdb, self.folder / "initdb.log", "initdb", user="postgres")
        options = f"-c listen_addresses={self.settings.host} -p {self.settings.pg_port} -k {self.folder}"
        start = [f"{BIN}/pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-o", options, "-w", "-t", "60", "start"]
        try:
            run(start, self.folder / "pg_ctl.log", "pg_ctl start", user="postgres")
        except ClusterError as error:
            raise ClusterError(f"{error}\nlast lines of {self.log_file}:\n{tail(self.log_file)}") from None
        self._bootstrap()

    def _bootstrap(self) -> None:
        """The role and its databases, once (a second ``up`` finds them)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(**self._connect_args("postgres", "postgres"), autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone():
                connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(ROLE)))
            for database in DATABASES:
                if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                    connection.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(ROLE)))

    def _connect_args(self, user: str, database: str) -> dict:
        return {"host": self.settings.host, "port": self.settings.pg_port, "user": user, "dbname": database, "connect_timeout": 5}

    def stop(self) -> None:
        if read_pid(self.data / "postmaster.pid") and self.pid():
            run(
                [f"{BIN}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"],
                self.folder / "pg_ctl.log",
                "pg_ctl stop",
                user="postgres",
            )

    def check(self) -> str | None:
        if not self.pid():
            return "not running"
        import psycopg

        try:
            with psycopg.connect(**self._connect_args(ROLE, DATABASES[0])) as connection:
                connection.execute("SELECT 1")
        except psycopg.Error as error:
            return f"cannot connect as {ROLE}: {str(error).strip().splitlines()[0]}"
        return None
