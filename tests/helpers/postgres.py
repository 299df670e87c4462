"""A real PostgreSQL server for the tests: Debian's postgresql-15, started in a temporary directory on a
loopback port, password authentication over TCP (scram-sha-256), stopped and removed afterwards.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user the Debian
package creates. Installed by scripts/test-deps.sh; a missing server fails the tests, never skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .registry import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    superuser: str
    password: str
    socket_dir: Path

    def psql(
        self,
        *args: str,
        user: str | None = None,
        password: str | None = None,
        database: str = "postgres",
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """`psql` over TCP as ``user`` (default: the superuser), ``args`` appended."""
        environment = {
            **os.environ,
            "PGPASSWORD": password if password is not None else self.password,
            "PGCONNECT_TIMEOUT": "10",
            **(env or {}),
        }
        command = [
            str(BIN / "psql"),
            "-X",
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            user or self.superuser,
            "-d",
            database,
            *args,
        ]
        return subprocess.run(command, env=environment, capture_output=True, text=True, check=check, timeout=120)

    def query(
        self, sql: str, *, user: str | None = None, password: str | None = None, database: str = "postgres"
    ) -> str:
        """One value, or rows of `|`-separated values, trimmed."""
        result = self.psql(
            "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, user=user, password=password, database=database
        )
        return result.stdout.strip()


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server() -> Iterator[Server]:
    if not (BIN / "postgres").exists():
        raise RuntimeError("PostgreSQL 15 is missing: apt-get install -y postgresql-15 (scripts/test-deps.sh does it)")
    base = Path(tempfile.mkdtemp(prefix="aipair-pg-"))
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    password = "test-superuser-" + os.urandom(8).hex()
    (base / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        shutil.chown(base / "pwfile", "postgres")
    subprocess.run(
        _as_postgres(
            [
                str(BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(base / "pwfile"),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = base / "server.log"
    subprocess.run(
        _as_postgres(
            [
                str(BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "start",
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off",
            ]
        ),
        check=True,
        capture_output=True,
    )
    server = Server("127.0.0.1", port, SUPERUSER, password, sockets)
    try:
        deadline = time.monotonic() + 30
        while server.psql("-c", "select 1", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield server
    finally:
        subprocess.run(
            _as_postgres([str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)
