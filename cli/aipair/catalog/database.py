"""Declared databases: what a shared PostgreSQL service holds for the applications that use it, and
where each service's configuration comes from (provenance). Plain declarations; the init job that
makes them real is rendered from them (aipair.render.databases)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StringConstraints

from .types import SecretName, ServiceName, Strict, hint

if TYPE_CHECKING:
    from .model import Service

# Unquoted PostgreSQL identifiers, lowercase: valid as role, database and extension names without quoting.
PgName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]
hint(PgName, "use lowercase letters, digits and '_', starting with a letter or '_' (a PostgreSQL identifier)")


class Database(Strict):
    """One application database: created with its owner role if missing, never dropped."""

    name: PgName = Field(description="Database name.")
    owner: PgName | None = Field(default=None, description="Login role that owns it (default: the database name).")
    password: SecretName = Field(description="Secret holding the owner role's password (set on every run).")
    extensions: list[PgName] = Field(
        default_factory=list,
        description="Extensions created in it by the superuser (needed for untrusted ones such as vector or "
        "pg_stat_statements, which an application role cannot create).",
    )
    used_by: list[ServiceName] = Field(
        default_factory=list, description="Services that use it; they start after the init job completes."
    )
    migrated_by: list[ServiceName] = Field(
        default_factory=list,
        description="Services whose new versions migrate this database's schema on start: deploying a changed one "
        "first snapshots this database (phase 1: a logical dump, the server running), and a failed deploy restores "
        "it (the services using it stopped meanwhile).",
    )

    @property
    def role(self) -> str:
        return self.owner or self.name


class Provenance(Strict):
    """Where a service's configuration comes from, and when it was last checked against it."""

    upstream: str = Field(
        description="Upstream file and ref the configuration follows, e.g. "
        "'supabase/supabase docker/docker-compose.yml @ 1.25.04'."
    )
    docs: str | None = Field(default=None, description="The upstream documentation page.")
    checked: dt.date = Field(description="When the entry was last checked against upstream (YYYY-MM-DD).")


SUPERUSER_PASSWORD_ENV = "POSTGRES_PASSWORD"


def init_job_name(service: str) -> str:
    """The rendered job that creates a service's declared databases."""
    return f"{service}-init"


def superuser_secret(service: Service) -> str | None:
    """The secret the PostgreSQL image takes as its superuser password (POSTGRES_PASSWORD)."""
    return next((use.secret for use in service.secrets if use.env == SUPERUSER_PASSWORD_ENV), None)


def superuser(service: Service) -> str:
    return str(service.env.get("POSTGRES_USER", "postgres"))
