"""The service catalog as typed data: the one intermediate form every renderer reads.

Field-level rules live here (pydantic); rules that relate several services (dependencies,
cycles, shared host ports, secret references) live in ``checks.py`` so that each problem is
reported with its own field path and line.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from ..errors import UnknownService
from .database import Database, Provenance
from .images import ImageRef
from .probes import Health, SmokeTest
from .secrets import Secret
from .settings import KestraSettings, KubernetesSettings, Tls
from .types import (
    Age,
    Duration,
    EnvName,
    Hostname,
    Layer,
    MemoryQuantity,
    Phase,
    PortNumber,
    SecretName,
    ServiceName,
    Slug,
    Strict,
    hint,
    secret_references,
)

PHASES_DEFAULT: tuple[Phase, ...] = ("mvp", "scale")


# --- pieces of a service ---------------------------------------------------------------------


class Route(Strict):
    """A public HTTP route: served by the reverse proxy with TLS at ``hostname``."""

    hostname: Hostname = Field(description="Public hostname; `{domain}` is replaced by project.domain.")
    path: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._~/-]*$")] = "/"


class Port(Strict):
    """A port the container listens on."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$")] = Field(
        default="http", description="Port name (Kubernetes port names: at most 15 characters)."
    )
    port: PortNumber = Field(description="Port inside the container.")
    protocol: Literal["tcp", "udp"] = "tcp"
    publish: PortNumber | None = Field(
        default=None, description="Publish on this host port in phase 1 (only for ports that must bypass the proxy)."
    )
    host_ip: IPv4Address | IPv6Address | None = Field(
        default=None,
        description="Host address the published port binds to in phase 1. Default: every interface, except "
        "for a service holding the Docker socket: 127.0.0.1 (loopback only) unless it sets public_with_docker_socket.",
    )
    public: Route | None = Field(default=None, description="Route public HTTPS traffic to this port.")

    @model_validator(mode="after")
    def _host_ip_needs_publish(self) -> Port:
        if self.host_ip is not None and self.publish is None:
            raise ValueError("host_ip is the host address of a published port: add `publish: PORT` or remove host_ip")
        return self


Condition = Literal["healthy", "started", "completed"]


class SecretUse(Strict):
    """How the image consumes a secret: as an environment variable or as a file."""

    secret: SecretName
    env: EnvName | None = None
    file: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._/-]+$")] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> SecretUse:
        if (self.env is None) == (self.file is None):
            raise ValueError("say how the image reads the secret: exactly one of `env: VAR` or `file: /path`")
        return self


VolumePath = Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._@+-]+(/[A-Za-z0-9._@+-]+)*$")]
hint(VolumePath, "write an absolute path inside the container, such as /var/lib/data (no host paths, no trailing '/')")


class Volume(Strict):
    """A named, persistent volume. Host paths are not allowed: data must move with the stack."""

    name: Slug
    path: VolumePath = Field(description="Absolute path inside the container.")
    size: MemoryQuantity = Field(default="1Gi", description="Requested size of the volume in phase 2.")
    read_only: bool = False
    shared_from: ServiceName | None = Field(
        default=None,
        description="Mount this volume of another service instead of one of its own: the same files, as a web "
        "app and its worker share uploads. That service owns the volume (and its size).",
    )

    def owner(self, service: str) -> str:
        """The service whose volume this is."""
        return self.shared_from or service

    @field_validator("path")
    @classmethod
    def _no_parent_refs(cls, value: str) -> str:
        if any(part in (".", "..") for part in value.split("/")):
            raise ValueError("the path must not contain '.' or '..' segments; write the absolute path")
        return value


class ConfigFile(Strict):
    """A small configuration file written into the container (Compose config, Kubernetes ConfigMap)."""

    path: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._/-]+$")]
    content: str
    mode: Annotated[int, Field(ge=0, le=0o777)] = 0o444


class Resources(Strict):
    cpus: Annotated[float, Field(gt=0, le=64)] = Field(default=0.5, description="CPU limit in cores.")
    memory: MemoryQuantity = Field(default="512Mi", description="Memory limit.")
    reserve_memory: MemoryQuantity | None = Field(default=None, description="Memory reservation (request).")


class Autoscale(Strict):
    min: Annotated[int, Field(ge=1, le=1000)] = 2
    max: Annotated[int, Field(ge=1, le=1000)] = 10
    cpu: Annotated[int, Field(ge=1, le=100)] = Field(default=70, description="Target average CPU utilisation, %.")
    memory: Annotated[int, Field(ge=1, le=100)] = Field(default=80, description="Target average memory utilisation, %.")

    @model_validator(mode="after")
    def _bounds(self) -> Autoscale:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class Managed(Strict):
    """A service that phase 2 uses as a managed, external endpoint instead of running it."""

    host: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")]
    port: PortNumber | None = None


class Scale(Strict):
    """Phase-2 (Kubernetes) settings."""

    replicas: Annotated[int, Field(ge=0, le=1000)] = 1
    autoscale: Autoscale | Literal[False] | None = Field(
        default=None,
        description="Autoscaling bounds; omitted: the catalog defaults for stateless services; false: fixed replicas.",
    )
    managed: Managed | None = None


class UpgradePolicy(Strict):
    """Which newer tags count as upgrade candidates."""

    track: Literal["patch", "minor", "major", "calver", "none"] = "minor"
    suffix: str | None = Field(default=None, description="Keep this tag suffix, e.g. '-alpine'.")
    prerelease: bool = False
    ignore: list[str] = Field(default_factory=list, description="Tags (or glob patterns) never to propose.")
    group: Slug | None = Field(default=None, description="Services in one group move in lockstep.")


class KnownDifferences(Strict):
    """What the catalog knowingly says differently from the image's own config (`catalog verify --images`)."""

    ports: list[PortNumber] = Field(
        default_factory=list,
        description="Ports the service listens on although the image does not declare them (no EXPOSE): "
        "`catalog verify --images` accepts them, with this reason as the note.",
    )
    reason: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="Why the catalog differs from the image, e.g. 'the admin port is set by an env var'."
    )


class Service(Strict):
    description: str = ""
    layer: Layer
    kind: Literal["stateless", "stateful", "job"] = "stateless"
    phases: list[Phase] = Field(default_factory=lambda: list(PHASES_DEFAULT), min_length=1)
    image: str = Field(description="Image reference with a pinned tag (and optionally @sha256 digest).")
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    user: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)?$")] | None = None
    init: bool = Field(default=False, description="Run an init process as PID 1 (reaps zombies, forwards signals).")
    env: dict[EnvName, str | int | float | bool] = Field(
        default_factory=dict, description="Environment; `${SECRET}` inserts a catalog secret, `$$` is a literal $."
    )
    secrets: list[SecretUse] = Field(default_factory=list)
    ports: list[Port] = Field(default_factory=list)
    health: Health | None = None
    depends_on: dict[ServiceName, Condition | None] = Field(
        default_factory=dict,
        description=(
            "Services that must be ready first: healthy, started, or completed (for jobs). "
            "A list of names, or an empty condition, waits for `completed` on jobs and `healthy` otherwise."
        ),
    )
    volumes: list[Volume] = Field(default_factory=list)
    files: list[ConfigFile] = Field(default_factory=list)
    docker_socket: bool = Field(
        default=False,
        description="Mount the host's Docker socket (management tools, the proxy's route discovery). This grants "
        "root on the host: whoever controls the service, or gets into its API or UI, controls every container and "
        "the host's files. A read-only mount would not limit that (the API is written through the socket), so "
        "none is pretended. Its published ports bind to 127.0.0.1 and public routes are refused, unless "
        "public_with_docker_socket is set.",
    )
    public_with_docker_socket: bool = Field(
        default=False,
        description="Accept that this service, which holds the Docker socket (root on the host), is reachable from "
        "outside the host: by a public route or a port published beyond loopback (a reverse proxy must be).",
    )
    resources: Resources | None = None
    scale: Scale = Field(default_factory=Scale)
    runs_as_root: bool = Field(default=False, description="The image cannot run as a non-root user.")
    known_differences: KnownDifferences | None = Field(
        default=None,
        description="Where the image's config knowingly differs from the catalog (ports it listens on without "
        "declaring them): `catalog verify --images` accepts these, naming the reason.",
    )
    upgrade: UpgradePolicy = Field(default_factory=UpgradePolicy)
    smoke: list[SmokeTest] = Field(default_factory=list)
    soak: Duration | None = Field(
        default=None,
        description="Phase 1: how long `aipair deploy` keeps watching this service after its health gate; a restart, "
        "a health flap or an OOM kill in that time fails the deploy. Omitted: defaults.soak; 0s: not watched.",
    )
    databases: list[Database] = Field(
        default_factory=list,
        description="PostgreSQL only: application databases this server holds; aipair renders the idempotent "
        "init job (<service>-init) that creates them.",
    )
    provenance: Provenance | None = Field(default=None, description="Where this configuration comes from.")
    mock: bool = Field(
        default=True,
        description="Replaced by a lightweight local stand-in (same name, ports and health endpoint) in the mock profile.",
    )

    @field_validator("depends_on", mode="before")
    @classmethod
    def _list_form(cls, value: object) -> object:
        """`depends_on: [a, b]` is shorthand; graph.condition() picks each condition from the target's kind."""
        if isinstance(value, list):
            if not all(isinstance(name, str) for name in value):
                raise ValueError(
                    "a list of depends_on names services only (`[cache, migrate]`); "
                    "to give a condition, use a mapping: `depends_on: {cache: healthy}`"
                )
            return dict.fromkeys(value)
        return value

    @field_validator("image")
    @classmethod
    def _pinned_image(cls, value: str) -> str:
        ref = ImageRef.parse(value)
        tag = ref.tag
        if tag is None and ref.digest is None:
            raise ValueError(f"{value!r} has no tag; pin a version, e.g. {value}:1.2.3")
        if tag == "latest":
            raise ValueError(f"{value!r} uses the moving tag 'latest'; pin a version so deploys are repeatable")
        return value

    @property
    def image_ref(self) -> ImageRef:
        return ImageRef.parse(self.image)  # validated when the catalog was loaded

    @property
    def image_repository(self) -> str:
        return self.image_ref.name

    @property
    def image_tag(self) -> str | None:
        return self.image_ref.tag

    def in_phase(self, phase: str) -> bool:
        return phase in self.phases

    def bind_address(self, port: Port) -> str | None:
        """The host address a published port binds to; None: every interface."""
        if port.host_ip is not None:
            return str(port.host_ip)
        return "127.0.0.1" if self.docker_socket and not self.public_with_docker_socket else None

    def secret_names(self) -> list[str]:
        """Every catalog secret this service reads, from `secrets:` and `${NAME}` in env, in order."""
        names = [use.secret for use in self.secrets] + [database.password for database in self.databases]
        for value in self.env.values():
            if isinstance(value, str):
                names += [ref for ref in secret_references(value) if ref]
        return list(dict.fromkeys(names))


# --- catalog-wide settings -------------------------------------------------------------------


class Logging(Strict):
    max_size: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*[kmg]$")] = "10m"
    max_file: Annotated[int, Field(ge=1, le=100)] = 3


class Snapshots(Strict):
    """Phase 1: snapshots of data volumes taken before a deploy changes a stateful service (or one that
    migrates a declared database), restored when its health gate fails and the deploy rolls back."""

    enabled: bool = Field(default=True, description="Take them (`aipair deploy --no-snapshot` skips one deploy).")
    keep: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=5, description="After a successful deploy, keep this many newest sets per project."
    )
    max_age: Age = Field(default="30d", description="After a successful deploy, remove sets older than this.")


class Defaults(Strict):
    restart: Literal["no", "always", "on-failure", "unless-stopped"] = "unless-stopped"
    logging: Logging = Field(default_factory=Logging)
    resources: Resources = Field(default_factory=Resources)
    autoscale: Autoscale = Field(default_factory=Autoscale)
    soak: Duration = Field(
        default="30s",
        description="Phase 1: how long `aipair deploy` watches the services after the health gate (a service's own "
        "`soak` wins). A restart, a health flap or an OOM kill in that time fails the deploy, and rolls it back when "
        "asked. 30s catches an image that crashes soon after its first healthy check at a small cost per deploy; "
        "0s turns it off.",
    )
    snapshots: Snapshots = Field(default_factory=Snapshots)


class Project(Strict):
    name: Slug
    description: str = ""
    domain: Annotated[
        str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
    ]
    namespace: Slug = Field(default="aipair", description="Kubernetes namespace and Kestra namespace prefix.")
    reverse_proxy: ServiceName | None = Field(
        default=None, description="The service (Traefik) that terminates TLS for public routes in phase 1."
    )
    tls: Tls
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    kestra: KestraSettings | None = Field(
        default=None, description="Version-validation flows for Kestra (kestra-flows/); none are rendered without it."
    )

    @property
    def kestra_namespace(self) -> str:
        return self.kestra.namespace if self.kestra and self.kestra.namespace else f"{self.namespace}.platform"


class Catalog(Strict):
    version: Literal[1] = Field(description="Catalog format version.")
    project: Project
    defaults: Defaults = Field(default_factory=Defaults)
    secrets: dict[SecretName, Secret] = Field(default_factory=dict)
    services: dict[ServiceName, Service] = Field(min_length=1)

    def service(self, name: str) -> Service:
        """The service called ``name``; UnknownService (a usage error naming the closest one) if none."""
        if name not in self.services:
            raise UnknownService(name, list(self.services))
        return self.services[name]

    def in_phase(self, phase: str) -> dict[str, Service]:
        return {name: svc for name, svc in self.services.items() if svc.in_phase(phase)}

    def expand(self, text: str) -> str:
        """Replace `{domain}` with the project's domain (hostnames and env values)."""
        return text.replace("{domain}", self.project.domain)

    def secrets_for(self, phase: str) -> list[str]:
        """The secrets the services of ``phase`` read, plus the secrets signing them, in catalog order."""
        used = {name for svc in self.in_phase(phase).values() for name in svc.secret_names()}
        used |= {jwt.signed_with for n in used if n in self.secrets and (jwt := self.secrets[n].jwt) is not None}
        return [name for name in self.secrets if name in used]
