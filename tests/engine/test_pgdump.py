"""engines/pgdump.py on a real engine and a real PostgreSQL 15 in it (tests/helpers/pgimage.py).

A declared database made by the init job's own SQL, schema v1 written by its owner role, dumped by a
helper container on the server's network; then a "migration" (a column, a table, changed rows and a
changed database setting) while a session stays connected; the restore brings back exactly v1:
`pg_dump --schema-only`, row checksums, owners and database settings compared. The password is in
no log, command line or exception; wrong passwords and databases fail saying what to check.

One double: ``Recorder`` wraps the real Docker client only to read each helper container's logs and
configuration before pgdump removes it (the engine keeps neither after removal).
"""

from __future__ import annotations

import io
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from aipair.catalog import load_catalog
from aipair.catalog.database import Database
from aipair.engines import docker as engine
from aipair.engines import pgdump, volumes
from aipair.render.databases import init_sql

from ..helpers.paths import DEFAULT_CATALOG
from ..helpers.pgimage import ensure_pg_image

SUPERUSER = "postgres"
HOST = "db"  # the server's name on the network, as a Compose service name
APP_PASSWORD = "shop-pw-" + uuid.uuid4().hex[:8]

SCHEMA_V1 = """
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id),
  total numeric(10, 2) NOT NULL CHECK (total >= 0),
  note text
);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 500;
INSERT INTO customers (email) SELECT 'c' || n || '@example.com' FROM generate_series(1, 200) AS n;
INSERT INTO orders (customer_id, total, note)
  SELECT 1 + n % 200, (n * 7 % 1000)::numeric / 1.0, CASE WHEN n % 3 = 0 THEN 'gift' END
  FROM generate_series(1, 5000) AS n;
"""

MIGRATION_V2 = """
ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';
CREATE TABLE refunds (id serial PRIMARY KEY, order_id bigint REFERENCES orders(id));
UPDATE orders SET total = total * 2 WHERE id % 2 = 0;
DELETE FROM orders WHERE id > 4900;
INSERT INTO customers (email) VALUES ('new@example.com');
DROP VIEW big_orders;
"""

ROWS = (
    "SELECT (SELECT md5(string_agg(c::text, ',' ORDER BY id)) FROM customers c) || ' '"
    " || (SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o)"
)
SETTINGS = (
    "SELECT coalesce(array_to_string(s.setconfig, ','), '') || ' owner=' || pg_get_userbyid(d.datdba)"
    " FROM pg_database d LEFT JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0"
    " WHERE d.datname = 'shop'"
)


@dataclass
class Pg:
    client: Any
    image: str
    network: str
    container: Any
    password: str
    dumps: str

    def psql(self, sql: str, *, database: str = "shop", user: str = SUPERUSER, password: str | None = None) -> str:
        """psql inside the server container, over TCP as ``user``; stdout, or the test fails with stderr."""
        code, (out, err) = self.container.exec_run(
            [
                "psql",
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                user,
                "-d",
                database,
                "-c",
                sql,
            ],
            environment={"PGPASSWORD": password or self.password},
            demux=True,
        )
        assert code == 0, (err or b"").decode()
        return (out or b"").decode().strip()

    def schema(self) -> str:
        code, (out, err) = self.container.exec_run(
            ["pg_dump", "--schema-only", "--restrict-key=aipairtest", "-h", "127.0.0.1", "-U", SUPERUSER, "shop"],
            environment={"PGPASSWORD": self.password},
            demux=True,
        )
        assert code == 0, (err or b"").decode()
        return str(out.decode())

    def call(self, what: Any, client: Any = None, **overrides: Any) -> volumes.Copied:
        arguments = dict(
            image=self.image,
            network=self.network,
            host=HOST,
            superuser=SUPERUSER,
            password=self.password,
            database="shop",
            file="shop.dump",
        )
        arguments["into_volume" if what is pgdump.dump else "from_volume"] = self.dumps
        arguments.update(overrides)
        server = pgdump.Server(
            **{key: arguments.pop(key) for key in ("image", "network", "host", "superuser", "password")}
        )
        return what(client or self.client, server, **arguments)  # type: ignore[no-any-return]


def _wait_ready(container: Any) -> None:
    deadline = time.monotonic() + 60
    while container.exec_run(["pg_isready", "-h", "127.0.0.1", "-U", SUPERUSER]).exit_code != 0:
        container.reload()
        if container.status != "running" or time.monotonic() > deadline:
            pytest.fail(f"the test PostgreSQL did not start: {container.logs().decode()[-2000:]}")
        time.sleep(0.3)


def _run_init_job(pg: Pg) -> None:
    """The init job's own SQL (render.databases) for one declared database `shop`, run as the job runs it."""
    server = load_catalog(DEFAULT_CATALOG).services["postgres"]
    server = server.model_copy(update={"databases": [Database(name="shop", password="SHOP_DB_PASSWORD")]})
    script = init_sql("postgres", server).encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("init.sql")
        info.size, info.mode = len(script), 0o644
        tar.addfile(info, io.BytesIO(script))
    pg.container.put_archive("/tmp", archive.getvalue())
    code, output = pg.container.exec_run(
        [
            "psql",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
            "-f",
            "/tmp/init.sql",
        ],
        environment={"PGPASSWORD": pg.password, "SHOP_DB_PASSWORD": APP_PASSWORD},
    )
    assert code == 0, output.decode()


@pytest.fixture(scope="module")
def pg(docker_host: str) -> Iterator[Pg]:
    client = engine.connect(docker_host)
    tag = uuid.uuid4().hex[:8]
    image = ensure_pg_image(client)
    network = client.networks.create(f"aipair-dump-{tag}_data", labels={"io.aipair.test": "pgdump"})
    data, dumps = f"aipair-dump-pgdata-{tag}", f"aipair-dump-snap-{tag}"
    volumes.create(client, data, {"io.aipair.test": "pgdump"})
    password = "super-" + uuid.uuid4().hex
    container = client.containers.create(
        image,
        name=f"aipair-dump-pg-{tag}",
        environment={"POSTGRES_PASSWORD": password},
        volumes={data: {"bind": "/var/lib/postgresql/data", "mode": "rw"}},
        labels={"io.aipair.test": "pgdump"},
    )
    try:
        network.connect(container, aliases=[HOST])
        container.start()
        _wait_ready(container)
        yield Pg(client, image, network.name, container, password, dumps)
    finally:
        container.remove(force=True)
        network.remove()
        volumes.remove(client, data)


@pytest.fixture
def fresh(pg: Pg) -> Iterator[Pg]:
    """The declared database `shop` made by the init job's SQL, schema v1 written by its owner; an empty dump
    volume. Dropped and removed after."""
    volumes.create(pg.client, pg.dumps, {"io.aipair.test": "pgdump"})
    _run_init_job(pg)
    pg.psql(SCHEMA_V1, user="shop", password=APP_PASSWORD)
    pg.psql("ALTER DATABASE shop SET work_mem = '8MB'", database="postgres")
    try:
        yield pg
    finally:
        pg.psql("DROP DATABASE IF EXISTS shop WITH (FORCE)", database="postgres")
        volumes.remove(pg.client, pg.dumps)


class Recorder:
    """The real Docker client, except that each container it creates has its logs and inspect data kept when it
    is removed (pgdump removes its helper containers; the engine then keeps nothing to look at)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.removed: list[tuple[dict[str, Any], str]] = []
        self.containers = self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def create(self, *args: Any, **kwargs: Any) -> Any:
        container = self._client.containers.create(*args, **kwargs)
        real_remove = container.remove

        def remove(**options: Any) -> None:
            container.reload()
            self.removed.append((container.attrs, container.logs(stdout=True, stderr=True).decode()))
            real_remove(**options)

        container.remove = remove
        return container


def _volume_listing(pg: Pg) -> list[str]:
    return volumes.run_helper(pg.client, "ls -A /d", {pg.dumps: ("/d", "ro")}, "list dumps").split()


def test_restore_brings_back_exactly_the_dumped_database_after_a_migration(fresh: Pg) -> None:
    pg = fresh
    schema_v1, rows_v1, settings_v1 = pg.schema(), pg.psql(ROWS), pg.psql(SETTINGS)
    assert "CREATE VIEW public.big_orders" in schema_v1 and settings_v1 == "work_mem=8MB owner=shop"

    dumped = pg.call(pgdump.dump)

    assert dumped.source == f"{HOST}/shop" and dumped.target == f"{pg.dumps}/shop.dump"
    assert _volume_listing(pg) == ["shop.dump"]
    size = volumes.run_helper(pg.client, "wc -c < /d/shop.dump", {pg.dumps: ("/d", "ro")}, "size").strip()
    assert dumped.bytes == int(size) > 10_000 and dumped.seconds > 0

    pg.psql(MIGRATION_V2, user="shop", password=APP_PASSWORD)
    pg.psql("ALTER DATABASE shop SET work_mem = '16MB'", database="postgres")
    assert pg.schema() != schema_v1 and pg.psql(ROWS) != rows_v1 and "refunds" in pg.schema()
    # The app still holds a session (a real rollback restores under a live server): restore ends it.
    pg.container.exec_run(
        ["psql", "-X", "-h", "127.0.0.1", "-U", "shop", "-d", "shop", "-c", "SELECT pg_sleep(600)"],
        environment={"PGPASSWORD": APP_PASSWORD},
        detach=True,
    )
    deadline = time.monotonic() + 10
    while pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'shop' AND usename = 'shop'") != "1":
        assert time.monotonic() < deadline, "the app session did not connect"
        time.sleep(0.2)

    restored = pg.call(pgdump.restore)

    assert restored.source == f"{pg.dumps}/shop.dump" and restored.target == f"{HOST}/shop"
    assert restored.bytes == dumped.bytes and restored.seconds > 0
    assert pg.schema() == schema_v1  # the migration's column and table are gone, the view is back
    assert pg.psql(ROWS) == rows_v1
    assert pg.psql(SETTINGS) == settings_v1  # database settings and owner as dumped
    assert pg.psql("SELECT count(*) FROM pg_database WHERE datname LIKE '%aipair%'", database="postgres") == "0"
    # The owner role still logs in and owns its tables: the app works on the restored database.
    assert pg.psql("SELECT count(*) FROM orders", user="shop", password=APP_PASSWORD) == "5000"
    assert pg.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'orders'") == "shop"


def test_the_password_is_in_no_log_command_line_or_error(fresh: Pg) -> None:
    pg = fresh
    recorder = Recorder(pg.client)

    pg.call(pgdump.dump, recorder)
    with pytest.raises(pgdump.DumpError) as failed:
        pg.call(pgdump.dump, recorder, file="again.dump", database="nope")

    assert len(recorder.removed) == 2
    for attrs, logs in recorder.removed:
        config = attrs["Config"]
        shown = " ".join([*(config["Entrypoint"] or []), *(config["Cmd"] or []), *attrs["Args"], attrs["Path"]])
        assert pg.password not in shown and pg.password not in logs
        assert f"PGPASSWORD={pg.password}" in config["Env"]  # the environment is how it reaches the tool
        assert attrs["HostConfig"]["NetworkMode"] == pg.network and config["Image"] == pg.image
    assert "pg_dump: dumping contents of table" in recorder.removed[0][1]  # real logs were read
    assert pg.password not in str(failed.value)


def test_wrong_password_or_database_fails_naming_them_and_writes_nothing(fresh: Pg) -> None:
    pg = fresh
    with pytest.raises(pgdump.DumpError) as wrong_password:
        pg.call(pgdump.dump, password="not-" + pg.password)
    message = str(wrong_password.value)
    assert "dump of database shop on db failed" in message and "password authentication failed" in message
    assert "POSTGRES_PASSWORD" in message and pg.password not in message

    with pytest.raises(pgdump.DumpError, match=r'database "nope" does not exist.*declared on the server'):
        pg.call(pgdump.dump, database="nope")
    with pytest.raises(pgdump.DumpError, match="is not a database name"):
        pg.call(pgdump.dump, database="shop; DROP DATABASE shop")
    with pytest.raises(pgdump.DumpError, match="does not exist on the engine"):
        pg.call(pgdump.dump, into_volume="aipair-dump-absent-volume")
    assert _volume_listing(pg) == []  # no partial file left

    pg.call(pgdump.dump)
    with pytest.raises(pgdump.DumpError, match="never overwritten"):
        pg.call(pgdump.dump)


def test_a_restore_that_cannot_read_its_dump_changes_nothing(fresh: Pg) -> None:
    pg = fresh
    volumes.run_helper(pg.client, "echo not a dump > /d/bad.dump", {pg.dumps: ("/d", "rw")}, "write a bad dump")
    before = pg.psql(ROWS)
    with pytest.raises(pgdump.DumpError, match="restore of database shop on db failed"):
        pg.call(pgdump.restore, file="bad.dump")
    with pytest.raises(pgdump.DumpError, match="missing or empty"):
        pg.call(pgdump.restore, file="absent.dump")
    assert pg.psql(ROWS) == before
    assert pg.psql("SELECT datallowconn FROM pg_database WHERE datname = 'shop'") == "t"


def test_a_restore_that_fails_midway_puts_the_database_back_as_it_was(fresh: Pg) -> None:
    pg = fresh
    # The dump grants to a role that is gone by restore time: pg_restore fails after making part of the database.
    pg.psql("CREATE ROLE reporter", database="postgres")
    pg.psql("GRANT SELECT ON orders TO reporter")
    pg.call(pgdump.dump)
    pg.psql("DROP OWNED BY reporter; DROP ROLE reporter")
    pg.psql(MIGRATION_V2, user="shop", password=APP_PASSWORD)
    schema_v2, rows_v2 = pg.schema(), pg.psql(ROWS)

    with pytest.raises(pgdump.DumpError, match='role "reporter" does not exist') as failed:
        pg.call(pgdump.restore)

    assert "back as it was before the restore" in str(failed.value)
    assert pg.schema() == schema_v2 and pg.psql(ROWS) == rows_v2
    assert pg.psql("SELECT datallowconn FROM pg_database WHERE datname = 'shop'") == "t"
    assert pg.psql("SELECT count(*) FROM pg_database WHERE datname LIKE '%aipair%'", database="postgres") == "0"

    # A database left aside by an interrupted restore may be the only copy: the next restore refuses to touch it.
    pg.psql("CREATE DATABASE shop_aipair_replaced", database="postgres")
    try:
        with pytest.raises(pgdump.DumpError, match="left from an interrupted restore"):
            pg.call(pgdump.restore)
        assert pg.psql(ROWS) == rows_v2
    finally:
        pg.psql("DROP DATABASE shop_aipair_replaced", database="postgres")
