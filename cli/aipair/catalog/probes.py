"""How a service is probed: its health check (Compose and Kubernetes) and the smoke tests run against a
candidate. The paths they request stay on the service itself, whatever the catalog writes."""

from __future__ import annotations

from string import Formatter
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from .types import Duration, PortNumber, Slug, Strict


def _path_on_the_service(value: str) -> str:
    """A request path appended to `http://<the service>:<port>`: it must not be able to name another host."""
    if not value.startswith("/"):
        raise ValueError(f"{value[:60]!r} is not a path; write a path on the service itself, such as /healthz")
    if value.startswith("//"):
        raise ValueError("a path starting with '//' names another host; write a single leading '/'")
    if "\\" in value:
        raise ValueError("a backslash is read as '/' by some clients and can name another host; use '/'")
    if "@" in value:
        raise ValueError("'@' can turn the path into credentials for another host; percent-encode it as %40")
    if any(not 0x21 <= ord(char) <= 0x7E for char in value):
        raise ValueError("whitespace, control and non-ASCII characters are not allowed; percent-encode them")
    return value


# A path (with an optional query) on the service's own port: health probes and smoke tests request it.
ServicePath = Annotated[str, AfterValidator(_path_on_the_service)]


class HealthTiming(Strict):
    interval: Duration = "10s"
    timeout: Duration = "5s"
    retries: Annotated[int, Field(ge=1, le=100)] = 5
    start_period: Duration = "30s"


class HttpHealth(HealthTiming):
    """Healthy when ``GET http://127.0.0.1:<port><path>`` answers below 400."""

    type: Literal["http"]
    port: PortNumber
    path: ServicePath = "/"
    probe: Literal["curl", "wget", "node", "python", "bash", "none"] = Field(
        description=(
            "The program inside the image that runs the check in Compose: curl, wget, node, python, "
            "bash (/dev/tcp, no client needed), or none (the image has nothing; Compose cannot check "
            "it, Kubernetes still probes it from the kubelet)."
        )
    )


class TcpHealth(HealthTiming):
    """Healthy when the port accepts a TCP connection."""

    type: Literal["tcp"]
    port: PortNumber
    probe: Literal["bash", "nc", "none"] = "bash"


class CommandHealth(HealthTiming):
    """Healthy when the command exits 0 inside the container (a native check such as pg_isready)."""

    type: Literal["command"]
    command: list[Annotated[str, StringConstraints(min_length=1)]] | Annotated[str, StringConstraints(min_length=1)] = (
        Field(description="Exec form (a list) runs directly; a string runs through /bin/sh -c.")
    )

    @field_validator("command")
    @classmethod
    def _non_empty(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list) and not value:
            raise ValueError("the command list is empty; give the program and its arguments")
        return value


Health = Annotated[Union[HttpHealth, TcpHealth, CommandHealth], Field(discriminator="type")]


# What a `host` smoke test's arguments may name of the candidate; `{{` and `}}` are literal braces.
HOST_PLACEHOLDERS = ("address", "port", "url")


def _known_placeholders(argument: str) -> str:
    """Only `{address}`, `{port}` and `{url}`, plainly: they are filled with str.format_map, so an
    attribute, index, conversion or format spec (`{url.__class__}`, `{port!r}`) must not get through."""
    try:
        parts = [(field, spec or conversion) for _, field, spec, conversion in Formatter().parse(argument)]
    except ValueError:
        raise ValueError(f"{argument[:60]!r} has an unmatched brace; write {{{{ and }}}} for literal braces") from None
    unknown = [field for field, _ in parts if field is not None and field not in HOST_PLACEHOLDERS]
    if unknown or any(extra for _, extra in parts):
        shown = ", ".join(f"{{{f}}}" for f in unknown) or "a format spec or conversion"
        raise ValueError(
            f"{argument[:60]!r} uses {shown}; the placeholders are {{address}}, {{port}} and {{url}} "
            "(write {{ and }} for literal braces)"
        )
    return argument


HostArgument = Annotated[str, StringConstraints(min_length=1), AfterValidator(_known_placeholders)]


class SmokeTest(Strict):
    """A check run against a candidate after it is healthy."""

    name: Slug
    http: ServicePath | None = Field(
        default=None, description="Path (and query) to GET on `port` of the service itself (default: its first port)."
    )
    tcp: PortNumber | None = Field(default=None, description="A port that must accept a TCP connection.")
    port: PortNumber | None = None
    status: Annotated[int, Field(ge=100, le=599)] = 200
    contains: str | None = None
    command: list[str] | None = Field(default=None, description="A program run inside the candidate's container.")
    host: list[HostArgument] | None = Field(
        default=None,
        description=(
            "A program run on the host running aipair (an argument list, no shell), passing when it exits 0: "
            "{address}, {port} (`port`, default: the service's first) and {url} (http://address:port) of the "
            "candidate are filled in each argument, and the environment has AIPAIR_CANDIDATE_URL, _ADDRESS and "
            "_PORT, AIPAIR_CATALOG (the catalog with the candidate's image) and, for the Kestra server, "
            "KESTRA_URL, KESTRA_USER and KESTRA_PASSWORD of the throw-away project. A first argument `aipair` "
            "is this aipair. The candidate's address is reachable from a local engine only."
        ),
    )
    timeout: Duration | None = Field(default=None, description="How long a `host` program may run (default 120s).")

    @field_validator("host")
    @classmethod
    def _a_program(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("the host command is empty; give the program and its arguments, e.g. [curl, -f, '{url}']")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> SmokeTest:
        if sum(kind is not None for kind in (self.http, self.tcp, self.command, self.host)) != 1:
            raise ValueError(
                "a smoke test is exactly one of `http: /path`, `tcp: PORT`, `command: [...]` or `host: [...]`"
            )
        if self.timeout is not None and self.host is None:
            raise ValueError("`timeout` applies to `host` smoke tests only; remove it here")
        return self
