"""A migrating app's database is snapshotted as a logical dump and restored on rollback (issue 16, item 4), on a
real Docker engine with a real PostgreSQL 15 (tests/helpers/pgimage.py) and its rendered init job.

The app is made here from the PostgreSQL image (it needs psql): v1 creates table ``items`` with two rows on
start and is healthy only while ``items`` has no ``color`` column; v2 "migrates" on start (adds ``color``, a
table ``tags``, a row) and then fails its health check. A failed v2 deploy with --rollback-on-failure restores
the dump: v1 healthy again on exactly the v1 schema and rows, and the server never stopped (same container,
same StartedAt). With --no-snapshot the v2 schema stays and v1 is unhealthy.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from aipair.engines import snapshots as store
from aipair.engines import volumes

from ..helpers.catalogs import write
from ..helpers.commands import cli
from ..helpers.pgimage import ensure_pg_image
from ..helpers.snapshots import own_deployment

APP = "aipair-test/snapdump-app"
START = """set -e
trap 'exit 0' TERM
sql() {{ psql -X -q -t -A -v ON_ERROR_STOP=1 -h postgres -U shop -d shop -c "$1"; }}
until sql 'SELECT 1' > /dev/null 2>&1; do sleep 1; done
sql "{migration}"
touch /tmp/ready
while :; do sleep 1; done
"""
V1 = "CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text NOT NULL);"
V1 += " INSERT INTO items VALUES (1, 'apple'), (2, 'pear') ON CONFLICT DO NOTHING;"
V2 = "ALTER TABLE items ADD COLUMN IF NOT EXISTS color text; CREATE TABLE IF NOT EXISTS tags (id int);"
V2 += " INSERT INTO items VALUES (3, 'plum', 'purple') ON CONFLICT DO NOTHING;"
HEALTH_V1 = (
    '[ -f /tmp/ready ] && [ "$(psql -X -t -A -h postgres -U shop -d shop -c "SELECT count(*) FROM'
    " information_schema.columns WHERE table_name = 'items' AND column_name = 'color'\")\" = 0 ]"
)
APPS = {"1.0.0": (V1, HEALTH_V1), "2.0.0": (V2, "exit 1")}
SCHEMA = (
    "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name)"
    " FROM information_schema.columns WHERE table_schema = 'public'"
)
ROWS = "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM items"


def _app_image(client: Any, base: str, tag: str) -> str:
    """The PostgreSQL image plus /app/start.sh and /app/health.sh of that version (a container committed)."""
    migration, health = APPS[tag]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in (("start.sh", START.format(migration=migration)), ("health.sh", health + "\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"app/{name}")
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    container = client.containers.create(base, entrypoint=["/bin/true"])
    try:
        container.put_archive("/", buffer.getvalue())
        container.commit(APP, tag, changes=['ENTRYPOINT ["/bin/sh", "/app/start.sh"]', "CMD []"])
    finally:
        container.remove(force=True)
    return f"{APP}:{tag}"


@pytest.fixture(scope="module")
def images(docker_host: str) -> tuple[Any, str]:
    client = docker.DockerClient(base_url=docker_host, timeout=300)
    server = ensure_pg_image(client)
    for tag in APPS:
        _app_image(client, server, tag)
    return client, server


def _catalog(project: str, server: str, tag: str) -> dict[str, Any]:
    quick = {"interval": "1s", "retries": 3, "start_period": "2s", "timeout": "5s"}
    return {
        "version": 1,
        "project": {"name": project, "domain": f"{project}.example.com", "tls": {"acme_email": "ops@example.com"}},
        "defaults": {"soak": "0s"},
        "secrets": {"PG_SUPER": {"generate": {}}, "SHOP_DB_PASSWORD": {"generate": {}}},
        "services": {
            "postgres": {
                "layer": "data",
                "kind": "stateful",
                "image": server,
                "mock": False,
                "secrets": [{"secret": "PG_SUPER", "env": "POSTGRES_PASSWORD"}],
                "ports": [{"name": "postgres", "port": 5432}],
                "volumes": [{"name": "data", "path": "/var/lib/postgresql/data"}],
                "health": {"type": "command", "command": ["pg_isready", "-h", "127.0.0.1"], **quick, "retries": 30},
                "databases": [
                    {"name": "shop", "password": "SHOP_DB_PASSWORD", "migrated_by": ["app"], "used_by": ["app"]}
                ],
            },
            "app": {
                "layer": "application",
                "image": f"{APP}:{tag}",
                "mock": False,
                "secrets": [{"secret": "SHOP_DB_PASSWORD", "env": "PGPASSWORD"}],
                "depends_on": {"postgres": "healthy"},
                "health": {"type": "command", "command": ["/bin/sh", "/app/health.sh"], **quick, "retries": 20},
            },
        },
    }


@pytest.fixture()
def deployment(images: tuple[Any, str], tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, str]]:
    """A catalog of its own project (named after the test), taken down with its volumes and snapshots after."""
    client, server = images
    with own_deployment(
        client, tmp_path, request, "snapdump", lambda project: _catalog(project, server, "1.0.0")
    ) as made:
        yield made


def _deploy(catalog: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli("deploy", "--profile", "mock", "--catalog", str(catalog), "--timeout", "90", "--json", *extra)
    assert result.stdout, result.output
    return result.exit_code, json.loads(result.stdout)


def _container(client: Any, project: str, service: str) -> Any:
    (found,) = client.containers.list(
        all=True,
        filters={"label": [f"com.docker.compose.project={project}-mock", f"com.docker.compose.service={service}"]},
    )
    return found


def _sql(client: Any, project: str, query: str) -> str:
    """psql in the server container as the superuser (local socket, trust)."""
    code, out = _container(client, project, "postgres").exec_run(
        ["psql", "-X", "-t", "-A", "-h", "/tmp", "-U", "postgres", "-d", "shop", "-c", query]
    )
    assert code == 0, out
    return str(out.decode()).strip()


def _health(client: Any, project: str, want: str, within: float = 60) -> str:
    deadline = time.monotonic() + within
    while True:
        health = _container(client, project, "app").attrs["State"].get("Health", {}).get("Status", "")
        if health == want or time.monotonic() > deadline:
            return str(health)
        time.sleep(0.5)


def _v1(client: Any, catalog: Path, project: str, server: str) -> tuple[str, str, tuple[str, str]]:
    code, first = _deploy(catalog)
    assert code == 0, first
    assert first["snapshot"] is None
    _sql(client, project, "INSERT INTO items VALUES (42, 'customer data')")
    db = _container(client, project, "postgres")
    v1 = (_sql(client, project, SCHEMA), _sql(client, project, ROWS))
    assert v1 == ("items.id,items.name", "1:apple,2:pear,42:customer data")
    write(catalog.parent, _catalog(project, server, "2.0.0"))
    return db.id, db.attrs["State"]["StartedAt"], v1


def test_a_failed_migration_is_rolled_back_from_a_dump_and_the_server_never_stops(
    images: tuple[Any, str], deployment: tuple[Path, str]
) -> None:
    client, server = images
    catalog, project = deployment
    db_id, started_at, v1 = _v1(client, catalog, project, server)

    code, failed = _deploy(catalog, "--rollback-on-failure")
    assert code == 1 and failed["failed"] == ["app"], failed
    taken = failed["snapshot"]
    (entry,) = taken["entries"]
    assert (entry["kind"], entry["database"], entry["service"], entry["trigger"]) == ("dump", "shop", "postgres", "app")
    assert entry["volume"] == "" and entry["image"] == server and entry["bytes"] > 0
    assert taken["stopped"] == []  # a dump needs no stop
    assert [(r["kind"], r["database"]) for r in failed["restored_data"]] == [("dump", "shop")]
    assert failed["restored"] == [{"service": "app", "from": f"{APP}:2.0.0", "to": f"{APP}:1.0.0"}]

    # v1 again, healthy, on the v1 schema and rows; the server is the same process that ran all along
    assert _container(client, project, "app").attrs["Config"]["Image"] == f"{APP}:1.0.0"
    assert _health(client, project, "healthy") == "healthy"
    assert (_sql(client, project, SCHEMA), _sql(client, project, ROWS)) == v1
    db = _container(client, project, "postgres")
    assert (db.id, db.attrs["State"]["StartedAt"], db.attrs["State"]["Status"]) == (db_id, started_at, "running")

    # the set is on the engine, labelled as a dump of shop, shown by `snapshots list`
    (kept,) = store.list_sets(client, f"{project}-mock")
    assert kept.id == taken["id"] and [(e.kind, e.database) for e in kept.entries] == [("dump", "shop")]
    labels = client.volumes.get(entry["snapshot"]).attrs["Labels"]
    assert (labels["io.aipair.kind"], labels["io.aipair.database"], labels["io.aipair.format"]) == (
        "dump",
        "shop",
        "pg_dump",
    )
    listed = cli("snapshots", "list", "--profile", "mock", "--catalog", str(catalog))
    assert listed.exit_code == 0 and "1 dump" in listed.stdout, listed.output
    assert all(word in listed.stdout for word in ("postgres:", "database", "shop", "(dump)"))

    # `snapshots restore` of the dump by hand: the app is stopped and started again, the server is not touched
    _sql(client, project, "INSERT INTO items VALUES (7, 'after the snapshot')")
    restored = cli("snapshots", "restore", kept.id, "--yes", "--profile", "mock", "--catalog", str(catalog), "--json")
    assert restored.exit_code == 0, restored.output
    result = json.loads(restored.stdout)
    assert result["stopped"] == ["app"] and result["started"] == ["app"]
    assert (_sql(client, project, SCHEMA), _sql(client, project, ROWS)) == v1
    assert _container(client, project, "postgres").attrs["State"]["StartedAt"] == started_at

    # prune removes dump sets like any other
    pruned = cli("snapshots", "prune", "--keep", "0", "--profile", "mock", "--catalog", str(catalog), "--json")
    assert pruned.exit_code == 0 and [s["id"] for s in json.loads(pruned.stdout)["removed"]] == [kept.id]
    assert not volumes.exists(client, entry["snapshot"])


def test_without_a_snapshot_the_v2_schema_stays(images: tuple[Any, str], deployment: tuple[Path, str]) -> None:
    client, server = images
    catalog, project = deployment
    _, _, v1 = _v1(client, catalog, project, server)

    code, failed = _deploy(catalog, "--rollback-on-failure", "--no-snapshot")
    assert code == 1 and failed["snapshot"] is None and failed["restored_data"] == []
    assert _container(client, project, "app").attrs["Config"]["Image"] == f"{APP}:1.0.0"
    assert _sql(client, project, SCHEMA) == "items.color,items.id,items.name,tags.id" != v1[0]
    assert _health(client, project, "unhealthy") == "unhealthy"
    assert store.list_sets(client, f"{project}-mock") == []
