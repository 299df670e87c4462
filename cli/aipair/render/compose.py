"""Phase 1: the catalog as a Docker Compose project. Pure: same catalog in, same dict out.

No I/O, clock or randomness here; ``files.py`` turns the dict into bytes and ``workspace.py``
writes them. Secrets appear only as `${NAME?…}` references resolved by Compose from
compose/.env.

Every string is built as the literal text it means; compose_interpolation.py escapes the document so
that Compose interpolates nothing but the declared secrets.
"""

from __future__ import annotations

from typing import Any

from ..catalog.graph import condition
from ..catalog.model import Catalog, Port, Service
from ..catalog.probes import CommandHealth, HttpHealth, TcpHealth
from ..catalog.types import LAYERS
from .compose_interpolation import Interpolated, SecretRef, env_value, escape_document
from .databases import with_init_jobs
from .mock import mock_overrides
from .names import compose_project, router_name, volume_name
from .report import Note

PHASE = "mvp"
DOCKER_SOCKET = "/var/run/docker.sock"
CONDITIONS = {"healthy": "service_healthy", "started": "service_started", "completed": "service_completed_successfully"}


# A Compose file as data: free-form by nature (the compose-spec), checked by the real Compose binary in tests.
ComposeDocument = dict[str, Any]


def render_compose(
    catalog: Catalog, *, project_name: str | None = None, profile: str = "real"
) -> tuple[ComposeDocument, list[Note]]:
    """The Compose document for phase 1 and the notes on what it approximates.

    ``project_name`` defaults to the profile's (the catalog's; `<name>-mock` for the mock profile,
    which so never shares containers, networks or volumes with the real project); a throw-away
    project (upgrade validation) passes its own. ``profile`` "mock" swaps every service marked
    mockable for the local stand-in of ``mock.py``.
    """
    catalog = with_init_jobs(catalog)
    project = project_name or compose_project(catalog, profile)
    services = catalog.in_phase(PHASE)
    notes: list[Note] = []
    layers_of = {name: _networks(catalog, name, svc, services) for name, svc in services.items()}
    mocked = {name for name, svc in services.items() if profile == "mock" and svc.mock}
    probed = {name for name, svc in services.items() if (name in mocked and svc.kind != "job") or _healthcheck(svc)}

    document: dict[str, Any] = {"name": project, "services": {}}
    volumes: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    for name, service in services.items():
        rendered = _service(catalog, project, name, service, services, layers_of[name], probed, notes)
        if name in mocked:
            rendered.update(mock_overrides(service))
            rendered.pop("user", None)
            rendered["volumes"] = [m for m in rendered.get("volumes", []) if m["type"] == "volume"] or None
            if rendered["volumes"] is None:
                del rendered["volumes"]
        document["services"][name] = rendered
        for volume in service.volumes:
            owner = volume.owner(name)
            volumes[volume_name(owner, volume.name)] = {"labels": {"com.aipair.service": owner}}
        for use in service.secrets:
            if use.file:
                secrets[use.secret.lower()] = {"environment": use.secret}
        for config_name, file in _config_names(name, service):
            configs[config_name] = {"content": file.content}

    used_layers = [layer for layer in LAYERS if any(layer in nets for nets in layers_of.values())]
    document["networks"] = {layer: {"labels": {"com.aipair.layer": layer}} for layer in used_layers}
    if volumes:
        document["volumes"] = volumes
    if secrets:
        document["secrets"] = dict(sorted(secrets.items()))
    if configs:
        document["configs"] = configs
    notes += _catalog_notes(catalog, services)
    return escape_document(document), sorted(notes)


def _service(
    catalog: Catalog,
    project: str,
    name: str,
    svc: Service,
    services: dict[str, Service],
    networks: list[str],
    probed: set[str],
    notes: list[Note],
) -> dict[str, Any]:
    out: dict[str, Any] = {"image": svc.image}
    if name == catalog.project.reverse_proxy and svc.command is None:
        out["command"] = _traefik_command(catalog, svc)
    if svc.entrypoint is not None:
        out["entrypoint"] = list(svc.entrypoint)
    if svc.command is not None:
        out["command"] = list(svc.command)
    if svc.user:
        out["user"] = svc.user
    if svc.init:
        out["init"] = True
    environment: dict[str, Interpolated | SecretRef] = {
        key: env_value(catalog, value) for key, value in svc.env.items()
    }
    environment.update({use.env: SecretRef(use.secret) for use in svc.secrets if use.env})
    if environment:
        out["environment"] = environment
    file_secrets = [{"source": use.secret.lower(), "target": use.file} for use in svc.secrets if use.file]
    if file_secrets:
        out["secrets"] = file_secrets
    configs = [{"source": config_name, "target": file.path} for config_name, file in _config_names(name, svc)]
    if configs:
        out["configs"] = configs
    published = [_published(svc, port) for port in svc.ports if port.publish is not None]
    if published:
        out["ports"] = published
    if svc.ports:
        out["expose"] = [
            f"{port.port}/{port.protocol}" if port.protocol != "tcp" else str(port.port) for port in svc.ports
        ]
    mounts = [
        {
            "type": "volume",
            "source": volume_name(v.owner(name), v.name),
            "target": v.path,
            **({"read_only": True} if v.read_only else {}),
        }
        for v in svc.volumes
    ]
    if svc.docker_socket:
        # Not read-only: `:ro` on a socket stops no API call (containers are started through it), so it would
        # only pretend. The socket is root on the host; see the docker_socket note.
        mounts.append({"type": "bind", "source": DOCKER_SOCKET, "target": DOCKER_SOCKET})
        notes.append(Note(PHASE, "docker_socket", name, socket_note(svc)))
    if mounts:
        out["volumes"] = mounts
    out["networks"] = networks
    depends = _depends_on(name, svc, services, probed, notes)
    if depends:
        out["depends_on"] = depends
    healthcheck = _healthcheck(svc)
    if healthcheck is not None:
        out["healthcheck"] = healthcheck
    elif svc.health is not None and name not in probed:
        notes.append(
            Note(
                PHASE,
                "health",
                name,
                f"the image has no program to probe {_describe(svc)} from inside; "
                "Compose treats it as ready once started (Kubernetes probes it from the kubelet)",
            )
        )
    out["restart"] = "no" if svc.kind == "job" else catalog.defaults.restart
    out["security_opt"] = ["no-new-privileges:true"]
    out["deploy"] = {"resources": _resources(catalog, svc)}
    logging = catalog.defaults.logging
    out["logging"] = {
        "driver": "json-file",
        "options": {"max-size": logging.max_size, "max-file": str(logging.max_file)},
    }
    out["labels"] = _labels(catalog, project, name, svc)
    return out


def _networks(catalog: Catalog, name: str, svc: Service, services: dict[str, Service]) -> list[str]:
    """Its own layer, the layers it depends on, and for the proxy every layer it routes to."""
    wanted = {svc.layer} | {services[dep].layer for dep in svc.depends_on if dep in services}
    if name == catalog.project.reverse_proxy:
        wanted |= {other.layer for other in services.values() if any(p.public for p in other.ports)}
    return [layer for layer in LAYERS if layer in wanted]


def _depends_on(
    name: str, svc: Service, services: dict[str, Service], probed: set[str], notes: list[Note]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dep in svc.depends_on:
        wanted = condition(services, name, dep)
        if wanted == "healthy" and dep not in probed:
            notes.append(
                Note(
                    PHASE,
                    "depends_on",
                    name,
                    f"waits for {dep!r} to start, not to be healthy: Compose has no healthcheck for {dep!r}",
                )
            )
            wanted = "started"
        out[dep] = {"condition": CONDITIONS[wanted]}
    return out


def _healthcheck(svc: Service) -> dict[str, Any] | None:
    """The Compose healthcheck, run by a program the image really has; None when it has none."""
    health = svc.health
    if health is None:
        return None
    test: list[str] | None
    if isinstance(health, CommandHealth):
        command = health.command
        test = ["CMD-SHELL", command] if isinstance(command, str) else ["CMD", *command]
    elif isinstance(health, HttpHealth):
        test = _http_probe(health)
    elif isinstance(health, TcpHealth):
        test = _tcp_probe(health)
    else:  # pragma: no cover - the union is closed
        raise TypeError(health)
    if test is None:
        return None
    return {
        "test": test,
        "interval": health.interval,
        "timeout": health.timeout,
        "retries": health.retries,
        "start_period": health.start_period,
    }


# Probe programs: fixed text; the URL or path is always an argument of its own (exec form), never
# spliced into shell or program text, so no catalog path can run code in the container.
NODE_PROBE = "fetch(process.argv[1]).then(r => process.exit(r.status < 400 ? 0 : 1), () => process.exit(1))"
PYTHON_PROBE = "import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=4)"
# Plain HTTP/1.0 over bash's /dev/tcp: only builtins, for images without any HTTP client. $1 is the path.
BASH_PROBE = (
    'exec 3<>/dev/tcp/127.0.0.1/{port} && printf "GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n" "$1" >&3 && '
    'read -r _ code _ <&3 && [ "${{code:-500}}" -lt 400 ]'
)


def _http_probe(health: HttpHealth) -> list[str] | None:
    url = f"http://127.0.0.1:{health.port}{health.path}"
    if health.probe == "curl":
        return ["CMD", "curl", "-fsS", "-o", "/dev/null", url]
    if health.probe == "wget":
        return ["CMD", "wget", "-q", "-O", "/dev/null", url]
    if health.probe == "node":
        return ["CMD", "node", "-e", NODE_PROBE, url]
    if health.probe == "python":
        return ["CMD", "python3", "-c", PYTHON_PROBE, url]
    if health.probe == "bash":
        return ["CMD", "bash", "-c", BASH_PROBE.format(port=health.port), "probe", health.path]
    return None


def _tcp_probe(health: TcpHealth) -> list[str] | None:
    if health.probe == "bash":
        return ["CMD", "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{health.port}"]
    if health.probe == "nc":
        return ["CMD", "nc", "-z", "127.0.0.1", str(health.port)]
    return None


def _describe(svc: Service) -> str:
    health = svc.health
    if isinstance(health, HttpHealth):
        return f"http://:{health.port}{health.path}"
    if isinstance(health, TcpHealth):
        return f"tcp port {health.port}"
    return "it"


def _published(svc: Service, port: Port) -> dict[str, Any]:
    """A published port; bound to one host address when the catalog (or the Docker socket) says so."""
    out: dict[str, Any] = {"target": port.port, "published": str(port.publish), "protocol": port.protocol}
    address = svc.bind_address(port)
    if address is not None:
        out["host_ip"] = address
    return out


def socket_note(svc: Service) -> str:
    """What holding the Docker socket means, said plainly."""
    exposure = (
        "reachable from outside the host (public_with_docker_socket)"
        if svc.public_with_docker_socket
        else "its published ports bind to 127.0.0.1 only"
    )
    return (
        "holds the Docker socket: root-equivalent on the host (it can start a privileged container that mounts /); "
        f"anyone who controls it or gets into it is root; {exposure}"
    )


def _resources(catalog: Catalog, svc: Service) -> dict[str, Any]:
    resources = svc.resources or catalog.defaults.resources
    out: dict[str, Any] = {"limits": {"cpus": f"{resources.cpus:g}", "memory": compose_bytes(resources.memory)}}
    if resources.reserve_memory:
        out["reservations"] = {"memory": compose_bytes(resources.reserve_memory)}
    return out


def compose_bytes(quantity: str) -> str:
    """Kubernetes binary quantity → Docker's binary unit suffix: 512Mi → 512m."""
    return quantity[:-2] + {"Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t"}[quantity[-2:]]


def _labels(catalog: Catalog, project: str, name: str, svc: Service) -> dict[str, str]:
    labels: dict[str, str] = {"com.aipair.kind": svc.kind, "com.aipair.layer": svc.layer}
    public = [port for port in svc.ports if port.public]
    if public:
        labels["traefik.enable"] = "true"
        labels["traefik.docker.network"] = f"{project}_{svc.layer}"
    for port in public:
        assert port.public is not None
        router = router_name(name, port.name)
        host = catalog.expand(port.public.hostname)
        rule = f"Host(`{host}`)" if port.public.path == "/" else f"Host(`{host}`) && PathPrefix(`{port.public.path}`)"
        labels[f"traefik.http.routers.{router}.rule"] = rule
        labels[f"traefik.http.routers.{router}.entrypoints"] = "websecure"
        labels[f"traefik.http.routers.{router}.tls.certresolver"] = catalog.project.tls.issuer
        labels[f"traefik.http.routers.{router}.service"] = router
        labels[f"traefik.http.services.{router}.loadbalancer.server.port"] = str(port.port)
    return dict(sorted(labels.items()))


def _traefik_command(catalog: Catalog, svc: Service) -> list[str]:
    """Traefik's static configuration, derived from the catalog so routes and resolver always agree."""
    issuer = catalog.project.tls.issuer
    web = next((p.port for p in svc.ports if p.name == "web"), 80)
    websecure = next((p.port for p in svc.ports if p.name == "websecure"), 443)
    command = [
        "--ping=true",
        "--providers.docker=true",
        "--providers.docker.exposedbydefault=false",
        f"--entrypoints.web.address=:{web}",
        "--entrypoints.web.http.redirections.entrypoint.to=websecure",
        "--entrypoints.web.http.redirections.entrypoint.scheme=https",
        f"--entrypoints.websecure.address=:{websecure}",
        f"--certificatesresolvers.{issuer}.acme.email={catalog.project.tls.acme_email}",
        f"--certificatesresolvers.{issuer}.acme.httpchallenge.entrypoint=web",
    ]
    if svc.volumes:
        command.append(f"--certificatesresolvers.{issuer}.acme.storage={svc.volumes[0].path}/acme.json")
    return command


def _config_names(name: str, svc: Service) -> list[tuple[str, Any]]:
    return [(f"{name}-{index}", file) for index, file in enumerate(svc.files)]


NETWORKS_NOTE = (
    "one Docker network per layer: a service joins its own layer and those of its dependencies, "
    "so it can also reach the other services on those layers (phase 2 NetworkPolicies are exact)"
)


def _catalog_notes(catalog: Catalog, services: dict[str, Service]) -> list[Note]:
    notes = [Note(PHASE, "networks", None, NETWORKS_NOTE)]
    scaled = [n for n, s in services.items() if s.scale.replicas > 1 or s.scale.autoscale]  # `false` counts as none
    if scaled:
        notes.append(
            Note(
                PHASE,
                "replicas",
                None,
                "one container each on the single host; replicas and autoscaling "
                "apply in phase 2: " + ", ".join(scaled),
            )
        )
    if any(s.volumes for s in services.values()):
        notes.append(
            Note(
                PHASE,
                "volumes",
                None,
                "volume sizes are not enforced by Docker local volumes; they size "
                "the PersistentVolumeClaims of phase 2",
            )
        )
    managed = [n for n, s in services.items() if s.scale.managed]
    if managed:
        notes.append(
            Note(
                PHASE,
                "managed",
                None,
                "runs as a container on the host; managed endpoints apply in phase 2: " + ", ".join(managed),
            )
        )
    skipped = [n for n, s in catalog.services.items() if not s.in_phase(PHASE)]
    if skipped:
        notes.append(Note(PHASE, "phases", None, "not part of phase 1: " + ", ".join(skipped)))
    return notes
