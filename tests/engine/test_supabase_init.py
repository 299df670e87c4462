"""The Supabase init SQL the catalog mounts into supabase/postgres, run on a real PostgreSQL 15 in the
order the image runs it: its migrate.sh runs `init-scripts/*.sql` as `postgres` (glob order), sets
`supabase_admin`'s password, then runs `migrations/*.sql` as `supabase_admin`, all with ON_ERROR_STOP.

Stand-in, said exactly: the image's own init scripts (00000000000000-initial-schema.sql and the ones
after it) create the Supabase roles before ours run. Debian's PostgreSQL has none of them, so the test
creates the roles our scripts use, with the attributes the image gives them, and nothing else.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from aipair.catalog import load_catalog
from aipair.catalog.model import ConfigFile

from ..helpers.paths import DEFAULT_CATALOG
from ..helpers.postgres import BIN, Server

INIT_DIR = "/docker-entrypoint-initdb.d/"
# What supabase/postgres's init-scripts create before ours (the roles our scripts touch, and the admin).
IMAGE_ROLES = """
CREATE ROLE supabase_admin LOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS;
CREATE ROLE authenticator NOINHERIT LOGIN;
CREATE ROLE pgbouncer LOGIN;
CREATE ROLE supabase_auth_admin NOINHERIT CREATEROLE LOGIN NOREPLICATION;
CREATE ROLE supabase_storage_admin NOINHERIT CREATEROLE LOGIN NOREPLICATION;
"""
ENV = {
    "POSTGRES_PASSWORD": "supabase-db-pw",
    "JWT_SECRET": "a-jwt-secret-of-at-least-32-characters",
    "JWT_EXP": "3600",
    "POSTGRES_USER": "supabase_admin",
}


def _scripts() -> tuple[list[ConfigFile], list[ConfigFile]]:
    files = load_catalog(DEFAULT_CATALOG).services["supabase-db"].files
    init = sorted((f for f in files if f.path.startswith(INIT_DIR + "init-scripts/")), key=lambda f: f.path)
    migrations = sorted((f for f in files if f.path.startswith(INIT_DIR + "migrations/")), key=lambda f: f.path)
    assert {f.path for f in files} == {f.path for f in init + migrations}, "every mounted file is run by migrate.sh"
    return init, migrations


def _run(
    postgres: Server, script: ConfigFile, user: str, password: str, workdir: Path
) -> subprocess.CompletedProcess[str]:
    """As migrate.sh does: psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc -U USER -f FILE."""
    path = workdir / Path(script.path).name
    path.write_text(script.content)
    return subprocess.run(
        [
            str(BIN / "psql"),
            "-v",
            "ON_ERROR_STOP=1",
            "--no-password",
            "--no-psqlrc",
            "-h",
            postgres.host,
            "-p",
            str(postgres.port),
            "-U",
            user,
            "-d",
            "postgres",
            "-f",
            str(path),
        ],
        env={**os.environ, **ENV, "PGPASSWORD": password},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def supabase_roles(postgres: Server) -> None:
    postgres.query(IMAGE_ROLES)


def test_the_catalogs_supabase_init_sql_runs_in_the_images_order(
    postgres: Server, supabase_roles: None, tmp_path: Path
) -> None:
    init, migrations = _scripts()
    assert init and migrations
    for script in init:
        result = _run(postgres, script, postgres.superuser, postgres.password, tmp_path)
        assert result.returncode == 0, f"{script.path}: {result.stderr}"
    postgres.query(f"ALTER USER supabase_admin WITH PASSWORD '{ENV['POSTGRES_PASSWORD']}'")  # migrate.sh does this
    for script in migrations:
        result = _run(postgres, script, "supabase_admin", ENV["POSTGRES_PASSWORD"], tmp_path)
        assert result.returncode == 0, f"{script.path}: {result.stderr}"

    # What the services then rely on: their roles log in with the database password, PostgREST's JWT settings,
    # Realtime's schema.
    for role in ("authenticator", "pgbouncer", "supabase_auth_admin", "supabase_storage_admin"):
        assert postgres.query("select current_user", user=role, password=ENV["POSTGRES_PASSWORD"]) == role
    assert postgres.query("show app.settings.jwt_secret") == ENV["JWT_SECRET"]
    assert postgres.query("show app.settings.jwt_exp") == "3600"
    assert (
        postgres.query("select pg_get_userbyid(nspowner) from pg_namespace where nspname = '_realtime'")
        == "supabase_admin"
    )


def test_the_script_as_shipped_before_aborts_the_init(postgres: Server, supabase_roles: None, tmp_path: Path) -> None:
    """The control: the 99-roles.sql that altered supabase_functions_admin (created only by upstream's
    webhooks.sql, which was not mounted) stops initdb on this server too; the test can tell."""
    roles = next(f for f in _scripts()[0] if f.path.endswith("99-roles.sql"))
    old = roles.model_copy(
        update={"content": roles.content + "ALTER USER supabase_functions_admin WITH PASSWORD :'pgpass';\n"}
    )
    result = _run(postgres, old, postgres.superuser, postgres.password, tmp_path)
    assert result.returncode == 3 and 'role "supabase_functions_admin" does not exist' in result.stderr
