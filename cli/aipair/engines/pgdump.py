"""Logical dumps of a declared PostgreSQL database, made and restored on the engine itself.

A snapshot of one application database without stopping its server: a helper container of the
*server's own image* (so pg_dump is of the server's major version) joins the project's network,
runs `pg_dump --format=custom` against the server by its service name and writes into a volume.
Data never travels through aipair, and the superuser password reaches the tools only through the
container's environment (PGPASSWORD): never a command line, a log line or an exception.

Restore brings the database back exactly as dumped, including dropping what a failed migration
added (`pg_restore --clean` would leave tables the dump does not know): the current database is
closed to connections and renamed aside, `pg_restore --create` makes it anew from the dump (owner,
encoding, locale, settings and grants included), and the renamed one is dropped. If the restore
fails, the partial database is dropped and the old one renamed back, open again.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from .volumes import Copied, VolumeError, exists, run_helper

MOUNT = "/dump"
# Names the scripts interpolate: a PostgreSQL identifier (as catalog.database.PgName), a file name, a host.
DATABASE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$")
HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,252}$")
OLD_SUFFIX = "_aipair_replaced"

DUMP_SCRIPT = f"""set -e
out="{MOUNT}/$AIPAIR_DUMP_FILE"
if [ -e "$out" ]; then echo "$AIPAIR_DUMP_FILE exists already in the volume: a dump is never overwritten" >&2; exit 2; fi
trap 'rm -f "$out.partial"' EXIT
pg_dump --format=custom --no-password --verbose --file="$out.partial" "$PGDATABASE"
mv "$out.partial" "$out"
wc -c < "$out"
"""

RESTORE_SCRIPT = """set -e
in="{mount}/$AIPAIR_DUMP_FILE"
if [ ! -s "$in" ]; then echo "$AIPAIR_DUMP_FILE is missing or empty in the volume" >&2; exit 2; fi
pg_restore --list "$in" > /dev/null  # the whole archive reads before anything changes
sql() {{ psql -X -q -t -A --no-password -v ON_ERROR_STOP=1 -d postgres -c "$1"; }}
if [ -n "$(sql "SELECT 1 FROM pg_database WHERE datname = '{old}'")" ]; then
  echo "database {old} is left from an interrupted restore and may hold the only copy of {db}:" \\
    "rename it back to {db} or drop it, then restore again" >&2
  exit 2
fi
replaced=
if [ -n "$(sql "SELECT 1 FROM pg_database WHERE datname = '{db}'")" ]; then
  sql 'ALTER DATABASE "{db}" WITH ALLOW_CONNECTIONS false'
  tries=0
  until sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'" > /dev/null \\
      && sql 'ALTER DATABASE "{db}" RENAME TO "{old}"' 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
      sql 'ALTER DATABASE "{db}" WITH ALLOW_CONNECTIONS true'
      echo "sessions on {db} did not end within 30 s; nothing was restored" >&2
      exit 1
    fi
    sleep 1
  done
  replaced=1
fi
if ! pg_restore --create --exit-on-error --no-password -d postgres "$in"; then
  sql 'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'
  if [ -n "$replaced" ]; then
    sql 'ALTER DATABASE "{old}" RENAME TO "{db}"'
    sql 'ALTER DATABASE "{db}" WITH ALLOW_CONNECTIONS true'
    echo "restore failed: {db} is back as it was before the restore" >&2
  fi
  exit 1
fi
if [ -n "$replaced" ]; then sql 'DROP DATABASE "{old}" WITH (FORCE)'; fi
wc -c < "$in"
"""


class DumpError(VolumeError):
    """A database could not be dumped or restored (the tool's error, without the password)."""


@dataclass(frozen=True)
class Server:
    """How to reach a running PostgreSQL server: the helper runs ``image`` (the server container's own, so the
    tools match its major version) on ``network`` and connects to ``host``."""

    image: str
    network: str
    host: str
    superuser: str
    password: str = field(repr=False)
    port: int = 5432


def _check(server: Server, database: str, file: str) -> None:
    for value, pattern, what in (
        (database, DATABASE, "a database name (lowercase letters, digits, '_')"),
        (file, FILE, "a file name (letters, digits, '.', '_', '-'; no '/')"),
        (server.host, HOST, "a host name (the server's service name)"),
    ):
        if not pattern.match(value):
            raise DumpError(f"{value!r} is not {what}; nothing was dumped or restored")


def _hint(error: str) -> str:
    if "password authentication failed" in error:
        return "; check the superuser's name and password (the secret the server takes as POSTGRES_PASSWORD)"
    if re.search(r'database "[^"]+" does not exist', error):
        return "; check the database's name: it must be declared on the server and made by its init job"
    if "could not translate host name" in error or "Connection refused" in error:
        return "; check that the server runs and that the network and host are the project's and service's"
    return ""


def _run(
    client: Any, server: Server, script: str, volume: str, mode: str, database: str, file: str, what: str
) -> tuple[int, float]:
    """Check the names and the volume, then run a dump tool's script with ``volume`` at MOUNT; (bytes it printed
    last, seconds). Its failure as DumpError, the password scrubbed."""
    _check(server, database, file)
    if not exists(client, volume):
        raise DumpError(f"volume {volume} does not exist on the engine; nothing was dumped or restored")
    environment = {
        "PGHOST": server.host,
        "PGPORT": str(server.port),
        "PGUSER": server.superuser,
        "PGPASSWORD": server.password,
        "PGDATABASE": database,
        "PGCONNECT_TIMEOUT": "10",
        "AIPAIR_DUMP_FILE": file,
    }
    started = time.monotonic()
    try:
        out = run_helper(
            client,
            script,
            {volume: (MOUNT, mode)},
            what,
            image=server.image,
            network=server.network,
            environment=environment,
        )
    except VolumeError as exc:
        message = str(exc).replace(server.password, "***") if server.password else str(exc)
        raise DumpError(message + _hint(message)) from None
    return int(out.strip().splitlines()[-1]), time.monotonic() - started


def dump(client: Any, server: Server, *, database: str, into_volume: str, file: str) -> Copied:
    """`pg_dump --format=custom` of ``database`` on ``server`` into ``into_volume``/``file``. An existing file is
    never overwritten. Copied(source "host/database", target "volume/file", bytes of the dump, seconds)."""
    what = f"dump of database {database} on {server.host}"
    size, seconds = _run(client, server, DUMP_SCRIPT, into_volume, "rw", database, file, what)
    return Copied(f"{server.host}/{database}", f"{into_volume}/{file}", size, seconds)


def restore(client: Any, server: Server, *, database: str, from_volume: str, file: str) -> Copied:
    """Make ``database`` on ``server`` exactly what ``from_volume``/``file`` holds (see the module's docstring: the
    current database is replaced whole; on failure it is put back). Its sessions are ended. Copied(source
    "volume/file", target "host/database", bytes of the dump, seconds)."""
    old = database[: 63 - len(OLD_SUFFIX)] + OLD_SUFFIX
    script = RESTORE_SCRIPT.format(mount=MOUNT, db=database, old=old)
    what = f"restore of database {database} on {server.host}"
    size, seconds = _run(client, server, script, from_volume, "ro", database, file, what)
    return Copied(f"{from_volume}/{file}", f"{server.host}/{database}", size, seconds)
