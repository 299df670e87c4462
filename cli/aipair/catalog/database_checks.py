"""Rules for declared databases, each reported at the field it concerns (see checks.py)."""

from __future__ import annotations

from ..errors import suggest
from .model import Catalog, Service

Loc = tuple[str | int, ...]

SUPERUSER_PASSWORD_ENV = "POSTGRES_PASSWORD"


def init_job_name(service: str) -> str:
    """The rendered job that creates a service's declared databases."""
    return f"{service}-init"


def superuser_secret(service: Service) -> str | None:
    """The secret the PostgreSQL image takes as its superuser password (POSTGRES_PASSWORD)."""
    return next((use.secret for use in service.secrets if use.env == SUPERUSER_PASSWORD_ENV), None)


def superuser(service: Service) -> str:
    return str(service.env.get("POSTGRES_USER", "postgres"))


def check_databases(catalog: Catalog) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    known_services = list(catalog.services)
    known_secrets = list(catalog.secrets)
    for name, service in catalog.services.items():
        if not service.databases:
            continue
        base: Loc = ("services", name, "databases")
        if init_job_name(name) in catalog.services:
            problems.append(
                (
                    base,
                    f"the init job {init_job_name(name)!r} aipair renders would replace the service "
                    "of that name; rename that service",
                )
            )
        if superuser_secret(service) is None:
            problems.append(
                (
                    ("services", name, "secrets"),
                    "declared databases need the superuser password: add "
                    f"{{ secret: <NAME>, env: {SUPERUSER_PASSWORD_ENV} }}",
                )
            )
        seen: dict[str, int] = {}
        passwords: dict[str, str] = {}
        for index, database in enumerate(service.databases):
            loc = base + (index,)
            if database.role == superuser(service):
                problems.append(
                    (
                        loc + ("owner",),
                        f"{database.role!r} is the server's superuser; give the application a role of its own",
                    )
                )
            if passwords.setdefault(database.role, database.password) != database.password:
                problems.append(
                    (
                        loc + ("password",),
                        f"role {database.role!r} already has password secret "
                        f"{passwords[database.role]!r}; one role, one password",
                    )
                )
            if database.name in seen:
                problems.append(
                    (
                        loc + ("name",),
                        f"database {database.name!r} is declared twice (also entry {seen[database.name] + 1})",
                    )
                )
            seen.setdefault(database.name, index)
            if database.password not in catalog.secrets:
                problems.append(
                    (
                        loc + ("password",),
                        f"unknown secret {database.password!r}"
                        f"{suggest(database.password, known_secrets)}; declare it under secrets:",
                    )
                )
            for position, user in enumerate(database.used_by):
                if user not in catalog.services:
                    problems.append(
                        (loc + ("used_by", position), f"unknown service {user!r}{suggest(user, known_services)}")
                    )
                elif user == name:
                    problems.append((loc + ("used_by", position), "the database server cannot use its own database"))
    return problems


def check_shared_volumes(catalog: Catalog) -> list[tuple[Loc, str]]:
    """A shared volume names a service that has a volume of that name, of its own, not per replica."""
    problems: list[tuple[Loc, str]] = []
    for name, service in catalog.services.items():
        for index, volume in enumerate(service.volumes):
            owner_name = volume.shared_from
            if owner_name is None:
                continue
            loc: Loc = ("services", name, "volumes", index, "shared_from")
            owner = catalog.services.get(owner_name)
            if owner is None or owner_name == name:
                problems.append(
                    (
                        loc,
                        f"unknown service {owner_name!r}{suggest(owner_name, list(catalog.services))}"
                        if owner is None
                        else "a service cannot share its own volume",
                    )
                )
                continue
            own = next((v for v in owner.volumes if v.name == volume.name), None)
            if own is None or own.shared_from:
                names = [v.name for v in owner.volumes if not v.shared_from]
                problems.append(
                    (loc, f"{owner_name} has no volume {volume.name!r} of its own{suggest(volume.name, names)}")
                )
            elif owner.kind == "stateful":
                problems.append((loc, f"{owner_name} is stateful: its volumes are per replica and cannot be shared"))
    return problems
