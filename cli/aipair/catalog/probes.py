"""How a service is probed: its health check (Compose and Kubernetes) and the smoke tests run against a
candidate. The paths they request stay on the service itself, whatever the catalog writes."""

from __future__ import annotations

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
    command: list[str] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SmokeTest:
        if sum(kind is not None for kind in (self.http, self.tcp, self.command)) != 1:
            raise ValueError("a smoke test is exactly one of `http: /path`, `tcp: PORT` or `command: [...]`")
        return self
