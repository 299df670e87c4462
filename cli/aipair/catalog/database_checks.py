"""Rules for declared databases, each reported at the field it concerns (see checks.py)."""

from __future__ import annotations

from ..errors import suggest
from .database import SUPERUSER_PASSWORD_ENV, init_job_name, superuser, superuser_secret
from .model import Catalog

Loc = tuple[str | int, ...]


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
            for position, migrator in enumerate(database.migrated_by):
                if migrator not in catalog.services:
                    problems.append(
                        (
                            loc + ("migrated_by", position),
                            f"unknown service {migrator!r}{suggest(migrator, known_services)}",
                        )
                    )
                elif migrator == name:
                    problems.append(
                        (
                            loc + ("migrated_by", position),
                            "the database server does not migrate its own databases; "
                            "name the application whose new versions do",
                        )
                    )
    return problems
