"""The declared databases' init job, run for real: its SQL against Debian's PostgreSQL 15, exactly as
the job runs it (same psql arguments and environment; only the host and port point at the test
server), twice. Then each application role logs in with its password and checks what its app needs.

Debian bookworm packages no pgvector, so `vector` is really missing on this server: the job must
say so and fail after doing everything else. That is reported, never faked.
"""

from __future__ import annotations

import copy
import os
import subprocess

import yaml

from aipair.catalog import load_catalog, parse_catalog
from aipair.catalog.model import Service
from aipair.render.databases import with_init_jobs

from ..helpers.catalogs import minimal
from ..helpers.paths import DEFAULT_CATALOG
from ..helpers.postgres import BIN, Server

PASSWORDS = {
    "APP_DB_PASSWORD": "app-pw-1",
    "CRM_DB_PASSWORD": "crm-pw-2",
    "HELPDESK_DB_PASSWORD": "helpdesk-pw-3",
    "CALCOM_DB_PASSWORD": "calcom-pw-4",
    "POSTIZ_DB_PASSWORD": "postiz-pw-5",
    "SHOP_DB_PASSWORD": "shop-pw-6",
}


def _run_job(postgres: Server, job: Service, passwords: dict[str, str]) -> tuple[int, str]:
    """The job's own psql command line and environment, pointed at the test server."""
    args = list(job.command or [])
    args[args.index("-h") + 1] = postgres.host
    args[args.index("-p") + 1] = str(postgres.port)
    script = job.files[0]
    path = postgres.socket_dir / "init.sql"
    path.write_text(script.content)
    args[args.index("-f") + 1] = str(path)
    environment = {use.env: passwords[use.secret] for use in job.secrets if use.env and use.secret in passwords}
    assert job.entrypoint == ["psql"] and args[args.index("-U") + 1] == postgres.superuser

    result = subprocess.run(
        [str(BIN / "psql"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **environment, "PGPASSWORD": postgres.password},
    )
    return result.returncode, result.stderr


def _job() -> Service:
    """The default catalog's rendered init job."""
    return with_init_jobs(load_catalog(DEFAULT_CATALOG)).services["postgres-init"]


def test_default_catalog_databases_twice_on_a_real_server_and_each_role_gets_what_its_app_needs(
    postgres: Server,
) -> None:
    job = _job()
    command_line = " ".join([*(job.entrypoint or []), *(job.command or [])])
    assert not any(value in command_line for value in PASSWORDS.values()) and "PASSWORD" not in command_line
    declared = {db.name: db for db in load_catalog(DEFAULT_CATALOG).services["postgres"].databases}

    for attempt in (1, 2):
        code, stderr = _run_job(postgres, job, PASSWORDS)
        # Everything is done, then the job fails naming the extension this server lacks: Debian has no pgvector.
        assert code == 3, stderr
        assert "extensions not available on this server: vector" in stderr, stderr
        assert "already exists" not in stderr and stderr.count("ERROR") == 1, f"run {attempt}: {stderr}"

    for name, database in declared.items():
        password = PASSWORDS[database.password]
        role = database.role
        assert (
            postgres.query(
                "select current_user || '@' || current_database()", user=role, password=password, database=name
            )
            == f"{role}@{name}"
        )
        postgres.query(
            "create table if not exists aipair_probe (id int); drop table aipair_probe",
            user=role,
            password=password,
            database=name,
        )  # CREATE in its own schema
        installed = set(postgres.query("select string_agg(extname, ',') from pg_extension", database=name).split(","))
        assert set(database.extensions) - {"vector"} <= installed, (name, installed)
        assert "vector" not in installed  # really missing here, and reported above
        owner = postgres.query(f"select pg_get_userbyid(datdba) from pg_database where datname = '{name}'")
        assert owner == role
        assert (
            postgres.query("select rolsuper from pg_roles where rolname = current_user", user=role, password=password)
            == "f"
        )
    # Another application's role cannot read this one's database.
    other = postgres.psql(
        "-c", "select 1", user="crm", password=PASSWORDS["CRM_DB_PASSWORD"], database="helpdesk", check=False
    )
    assert other.returncode == 0  # CONNECT is granted to PUBLIC by default in PostgreSQL ...
    denied = postgres.psql(
        "-c",
        "create table intruder (id int)",
        user="crm",
        password=PASSWORDS["CRM_DB_PASSWORD"],
        database="helpdesk",
        check=False,
    )
    assert denied.returncode != 0 and "permission denied" in denied.stderr  # ... but not CREATE in its schema


def test_a_catalog_whose_extensions_exist_succeeds_twice_and_rotates_a_password(postgres: Server) -> None:
    data = minimal()
    data["secrets"].update({"PG_SUPER": {"generate": {}}, "SHOP_DB_PASSWORD": {"generate": {}}})
    data["services"]["db"] = {
        "layer": "data",
        "kind": "stateful",
        "image": "postgres:16.6-alpine",
        "secrets": [{"secret": "PG_SUPER", "env": "POSTGRES_PASSWORD"}],
        "ports": [{"name": "postgres", "port": 5432}],
        "health": {"type": "command", "command": ["pg_isready"]},
        "databases": [
            {
                "name": "shop",
                "owner": "shopkeeper",
                "password": "SHOP_DB_PASSWORD",
                "extensions": ["pg_trgm", "pgcrypto"],
                "used_by": ["web"],
            }
        ],
    }
    catalog = parse_catalog(yaml.safe_dump(copy.deepcopy(data)))
    job = with_init_jobs(catalog).services["db-init"]
    assert with_init_jobs(catalog).services["web"].depends_on["db-init"] == "completed"
    for _ in (1, 2):
        code, stderr = _run_job(postgres, job, PASSWORDS)
        assert code == 0, stderr
    assert (
        postgres.query(
            "select string_agg(extname, ',' order by extname) from pg_extension where extname <> 'plpgsql'",
            database="shop",
        )
        == "pg_trgm,pgcrypto"
    )
    assert postgres.query("select 1", user="shopkeeper", password="shop-pw-6", database="shop") == "1"

    code, stderr = _run_job(postgres, job, {**PASSWORDS, "SHOP_DB_PASSWORD": "rotated-7"})
    assert code == 0, stderr
    assert (
        postgres.psql(
            "-c", "select 1", user="shopkeeper", password="shop-pw-6", database="shop", check=False
        ).returncode
        != 0
    )
    assert postgres.query("select 1", user="shopkeeper", password="rotated-7", database="shop") == "1"

    missing = {**PASSWORDS}
    del missing["SHOP_DB_PASSWORD"]
    code, stderr = _run_job(postgres, job, missing)
    assert code == 3 and "SHOP_DB_PASSWORD (the password of role shopkeeper) is empty or missing" in stderr, stderr
