"""Rules that relate several parts of the catalog, each reported at the field it concerns."""

from __future__ import annotations

import re

from ..errors import suggest
from .database_checks import check_databases
from .graph import condition, find_cycle
from .model import Catalog, Service
from .names import rendered_names
from .settings import flow_separator_problems
from .types import secret_references
from .yamlpos import format_path

Loc = tuple[str | int, ...]

SECRET_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")


def check_catalog(catalog: Catalog) -> list[tuple[Loc, str]]:
    """Every cross-reference problem in the catalog, in catalog order."""
    problems: list[tuple[Loc, str]] = []
    problems += _check_dependencies(catalog)
    for name, service in catalog.services.items():
        problems += _check_service(catalog, name, service)
    problems += _check_host_ports(catalog)
    problems += _check_routes(catalog)
    problems += _check_secrets(catalog)
    problems += check_databases(catalog)
    problems += _check_shared_volumes(catalog)
    problems += _check_name_collisions(catalog)
    problems += _check_socket_exposure(catalog)
    problems += _check_pod_security(catalog)
    problems += flow_separator_problems(catalog.project)
    return problems


def socket_holders(catalog: Catalog) -> list[str]:
    """The phase-1 services that mount the Docker socket: each is root-equivalent on the host."""
    return [name for name, svc in catalog.in_phase("mvp").items() if svc.docker_socket]


def _check_socket_exposure(catalog: Catalog) -> list[tuple[Loc, str]]:
    """The Docker socket is root on the host: a service holding it stays on the host unless the author opts in."""
    problems: list[tuple[Loc, str]] = []
    for name, service in catalog.services.items():
        base: Loc = ("services", name)
        if service.public_with_docker_socket and not service.docker_socket:
            problems.append(
                (
                    base + ("public_with_docker_socket",),
                    "applies only to a service with `docker_socket: true`; remove it",
                )
            )
        if not service.docker_socket or service.public_with_docker_socket or "mvp" not in service.phases:
            continue
        opt_in = (
            "it holds the Docker socket, which is root on the host; keep it private (reach it through "
            "`ssh -L`), or add `public_with_docker_socket: true` to accept that whoever gets in is root"
        )
        for index, port in enumerate(service.ports):
            if port.public is not None:
                problems.append((base + ("ports", index, "public"), f"a public route to {name}: {opt_in}"))
            elif port.host_ip is not None and not port.host_ip.is_loopback:
                problems.append(
                    (base + ("ports", index, "host_ip"), f"port {port.publish} published on {port.host_ip}: {opt_in}")
                )
    return problems


def _check_name_collisions(catalog: Catalog) -> list[tuple[Loc, str]]:
    """Two catalog objects whose joined names are one engine object: reported at both, each naming the other."""
    problems: list[tuple[Loc, str]] = []
    seen: dict[tuple[str, str], list[tuple[str, Loc | None]]] = {}
    for made in rendered_names(catalog):
        seen.setdefault((made.kind, made.name), []).append((made.origin, made.loc))
    for (kind, rendered), makers in seen.items():
        if len(makers) < 2:
            continue
        for origin, loc in makers:
            if loc is None:
                continue
            others = [
                f"{other} ({format_path(list(other_loc))})" if other_loc else other
                for other, other_loc in makers
                if (other, other_loc) != (origin, loc)
            ]
            if not others:  # one object named twice by the same origin (e.g. two replicas): not a collision
                continue
            problems.append(
                (
                    loc,
                    f"{origin} is rendered as {kind} {rendered!r}, and so is {' and '.join(others)}: "
                    "they would be one object; rename one of them",
                )
            )
    return problems


def _check_dependencies(catalog: Catalog) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    services = catalog.services
    known = list(services)
    for name, service in services.items():
        for dep in service.depends_on:
            loc: Loc = ("services", name, "depends_on", dep)
            if dep == name:
                problems.append((loc, "a service cannot depend on itself"))
                continue
            if dep not in services:
                problems.append((loc, f"unknown service {dep!r}{suggest(dep, known)}"))
                continue
            target = services[dep]
            missing = [p for p in service.phases if p not in target.phases]
            if missing:
                problems.append(
                    (
                        loc,
                        f"{dep!r} is not part of phase {', '.join(missing)}, but {name!r} is; "
                        f"add the phase to {dep!r} or remove the dependency",
                    )
                )
            wanted = condition(services, name, dep)
            if wanted == "completed" and target.kind != "job":
                problems.append(
                    (loc, f"`completed` waits for a job to exit, but {dep!r} is {target.kind}; use healthy or started")
                )
            if wanted == "healthy" and target.kind == "job":
                problems.append((loc, f"{dep!r} is a job and has no health; wait for `completed` instead"))
    edges = {n: [d for d in s.depends_on if d in services and d != n] for n, s in services.items()}
    cycle = find_cycle(edges)
    if cycle:
        problems.append(
            (
                ("services", cycle[0], "depends_on", cycle[1]),
                "dependency cycle: " + " → ".join(cycle) + "; remove one of these dependencies",
            )
        )
    return problems


def _check_service(catalog: Catalog, name: str, service: Service) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    base: Loc = ("services", name)
    if service.kind != "job" and service.health is None:
        problems.append(
            (
                base + ("health",),
                f"missing: a {service.kind} service needs a health check (http, tcp or command) "
                "so that deploys can wait for it",
            )
        )
    if service.kind == "job" and service.health is not None:
        problems.append((base + ("health",), "a job runs to completion; remove its health check"))
    by_field: tuple[tuple[str, dict[object, int]], ...] = (("name", {}), ("port", {}))
    for field, seen_values in by_field:
        for index, port in enumerate(service.ports):
            value = getattr(port, field)
            if value in seen_values:
                problems.append(
                    (
                        base + ("ports", index, field),
                        f"port {field} {value!r} is already used by ports[{seen_values[value]}]",
                    )
                )
            seen_values.setdefault(value, index)
    numbers = {p.port for p in service.ports}
    health = service.health
    if health is not None and health.type in ("http", "tcp") and health.port not in numbers:
        problems.append(
            (
                base + ("health", "port"),
                f"port {health.port} is not among this service's ports ({sorted(numbers) or 'none'}); declare it under ports",
            )
        )
    for collection, key in (("volumes", "name"), ("volumes", "path"), ("files", "path")):
        seen: dict[str, int] = {}
        for index, item in enumerate(getattr(service, collection)):
            value = getattr(item, key)
            if value in seen:
                problems.append(
                    (base + (collection, index, key), f"{value!r} is already used by {collection}[{seen[value]}]")
                )
            seen.setdefault(value, index)
    env_targets = {use.env: index for index, use in enumerate(service.secrets) if use.env}
    for var in service.env:
        if var in env_targets:
            problems.append(
                (base + ("env", var), f"{var} is also set from a secret (secrets[{env_targets[var]}]); keep only one")
            )
    if service.scale.managed is not None and service.kind != "stateful":
        problems.append(
            (base + ("scale", "managed"), "only a stateful service (a database) can be replaced by a managed endpoint")
        )
    return problems


def _check_pod_security(catalog: Catalog) -> list[tuple[Loc, str]]:
    """At `restricted`, the namespace refuses pods that may run as root: say so at the field, before a deploy
    whose pods would never be created. (The report lists the gaps of lower levels; render/pod_security.py.)"""
    if catalog.project.kubernetes.pod_security != "restricted":
        return []
    refusal = "the namespace enforces Pod Security restricted (project.kubernetes.pod_security), which refuses"
    problems: list[tuple[Loc, str]] = []
    for name, service in catalog.in_phase("scale").items():
        if service.scale.managed is not None:
            continue
        if service.runs_as_root:
            problems.append(
                (
                    ("services", name, "runs_as_root"),
                    f"{refusal} pods that run as root: give the image a non-root user, or lower the level to baseline",
                )
            )
        if (service.user or "").partition(":")[0] in ("0", "root"):
            problems.append(
                (
                    ("services", name, "user"),
                    f"{refusal} runAsUser=0: name a non-zero uid, or lower the level to baseline",
                )
            )
    return problems


def _check_host_ports(catalog: Catalog) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    owners: dict[tuple[int, str], str] = {}
    for name, service in catalog.in_phase("mvp").items():
        for index, port in enumerate(service.ports):
            if port.publish is None:
                continue
            key = (port.publish, port.protocol)
            if key in owners:
                problems.append(
                    (
                        ("services", name, "ports", index, "publish"),
                        f"host port {port.publish}/{port.protocol} is already published by {owners[key]}; pick another",
                    )
                )
            else:
                owners[key] = f"{name} (ports[{index}])"
    return problems


def _check_routes(catalog: Catalog) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    proxy = catalog.project.reverse_proxy
    routes: dict[tuple[str, str], str] = {}
    first_public: Loc | None = None
    for name, service in catalog.services.items():
        for index, port in enumerate(service.ports):
            if port.public is None:
                continue
            loc: Loc = ("services", name, "ports", index, "public")
            first_public = first_public or loc
            key = (port.public.hostname, port.public.path)
            if key in routes:
                problems.append(
                    (
                        loc + ("hostname",),
                        f"{port.public.hostname}{port.public.path} is already routed to {routes[key]}",
                    )
                )
            routes.setdefault(key, name)
    if proxy is None:
        if first_public is not None:
            problems.append(
                (
                    ("project", "reverse_proxy"),
                    "missing: services declare public routes, so name the reverse-proxy service here",
                )
            )
        return problems
    if proxy not in catalog.services:
        problems.append(
            (("project", "reverse_proxy"), f"unknown service {proxy!r}{suggest(proxy, list(catalog.services))}")
        )
        return problems
    svc = catalog.services[proxy]
    repo = svc.image_repository.rsplit("/", 1)[-1]
    if repo != "traefik":
        problems.append(
            (
                ("services", proxy, "image"),
                f"the reverse proxy must be a Traefik image (routes are rendered as Traefik labels), not {svc.image!r}",
            )
        )
    if "mvp" not in svc.phases:
        problems.append((("services", proxy, "phases"), "the reverse proxy serves phase 1; include mvp"))
    return problems


def _check_secrets(catalog: Catalog) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    known = list(catalog.secrets)
    for secret_name, secret in catalog.secrets.items():
        if secret.jwt is not None:
            signer = secret.jwt.signed_with
            loc: Loc = ("secrets", secret_name, "jwt", "signed_with")
            if signer not in catalog.secrets:
                problems.append((loc, f"unknown secret {signer!r}{suggest(signer, known)}"))
            elif catalog.secrets[signer].jwt is not None or signer == secret_name:
                problems.append((loc, "a JWT must be signed with a generated or supplied secret, not another JWT"))
    for name, service in catalog.services.items():
        for index, use in enumerate(service.secrets):
            if use.secret not in catalog.secrets:
                problems.append(
                    (
                        ("services", name, "secrets", index, "secret"),
                        f"unknown secret {use.secret!r}{suggest(use.secret, known)}; declare it under secrets:",
                    )
                )
        for var, value in service.env.items():
            if not isinstance(value, str):
                continue
            for ref in secret_references(value):
                loc = ("services", name, "env", var)
                if ref is None:
                    problems.append(
                        (loc, "a lone `$`: write `$$` for a literal dollar sign or `${SECRET}` for a secret")
                    )
                elif not SECRET_NAME_RE.match(ref):
                    problems.append(
                        (loc, f"`${{{ref}}}` is not a secret name (UPPER_CASE); write `$$` for a literal dollar sign")
                    )
                elif ref not in catalog.secrets:
                    problems.append(
                        (
                            loc,
                            f"`${{{ref}}}` refers to an unknown secret{suggest(ref, known)}; declare it under secrets:",
                        )
                    )
    return problems


def _check_shared_volumes(catalog: Catalog) -> list[tuple[Loc, str]]:
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
