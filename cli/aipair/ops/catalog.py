"""What `aipair catalog …` answers: a summary, one row per service, one service in full, the start
order, the JSON Schema. Pure reads of the validated catalog."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, JsonValue

from ..catalog.checks import socket_holders
from ..catalog.graph import condition, dependency_closure, start_waves
from ..catalog.model import Catalog
from ..catalog.types import PHASES
from ..engines.files import atomic_write
from ..render.databases import with_init_jobs
from ..results import Result


class CatalogSummary(Result):
    ok: bool = True
    catalog: str
    services: int
    secrets: int
    phases: dict[str, int]
    root_equivalent: list[str] = Field(
        default_factory=list, description="Services holding the Docker socket: each is root on the phase-1 host."
    )


def summary(path: Path, catalog: Catalog) -> CatalogSummary:
    catalog = with_init_jobs(catalog)  # what will run: declared databases bring their init job
    return CatalogSummary(
        catalog=str(path),
        services=len(catalog.services),
        secrets=len(catalog.secrets),
        phases={phase: len(catalog.in_phase(phase)) for phase in PHASES},
        root_equivalent=socket_holders(catalog),
    )


class ServiceRow(Result):
    name: str
    layer: str
    kind: str
    image: str
    phases: list[str]
    ports: list[int]
    public: list[str]
    depends_on: list[str]


class ServiceList(Result):
    title: str
    rows: list[ServiceRow]

    def to_json(self) -> JsonValue:
        """A bare list of rows (what `catalog list --json` has always printed)."""
        return [row.to_json() for row in self.rows]


def public_hosts(catalog: Catalog, name: str) -> list[str]:
    """Each public route of the service as host + path, with the domain filled in."""
    return [
        catalog.expand(p.public.hostname) + (p.public.path if p.public.path != "/" else "")
        for p in catalog.services[name].ports
        if p.public
    ]


def service_list(catalog: Catalog, phase: str | None) -> ServiceList:
    catalog = with_init_jobs(catalog)
    services = catalog.services if phase is None else catalog.in_phase(phase)
    rows = [
        ServiceRow(
            name=name,
            layer=svc.layer,
            kind=svc.kind,
            image=svc.image,
            phases=list(svc.phases),
            ports=[p.port for p in svc.ports],
            public=public_hosts(catalog, name),
            depends_on=list(svc.depends_on),
        )
        for name, svc in services.items()
    ]
    return ServiceList(title=catalog.project.description or catalog.project.name, rows=rows)


class ServiceDetail(Result):
    name: str
    detail: dict[str, JsonValue]  # the service with defaults filled in, plus depends_on_all and dependents

    def to_json(self) -> JsonValue:
        """The service's own fields beside its name, not nested."""
        return {"name": self.name, **self.detail}


def service_detail(catalog: Catalog, name: str) -> ServiceDetail:
    catalog = with_init_jobs(catalog)
    detail: dict[str, JsonValue] = catalog.service(name).model_dump(mode="json")
    closure: list[JsonValue] = [*sorted(dependency_closure(catalog, name))]
    dependents: list[JsonValue] = [other for other, svc in catalog.services.items() if name in svc.depends_on]
    detail["depends_on_all"] = closure
    detail["dependents"] = dependents
    return ServiceDetail(name=name, detail=detail)


class Edge(Result):
    source: str = Field(serialization_alias="from")
    target: str = Field(serialization_alias="to")
    condition: str


class StartOrder(Result):
    waves: list[list[str]]
    edges: list[Edge]
    nodes: list[str] = Field(exclude=True)  # every service shown, in catalog order
    roots: list[str] = Field(exclude=True)  # those that depend on nothing


def start_order(catalog: Catalog, phase: str | None) -> StartOrder:
    """Waves of services whose dependencies are all in earlier waves; CycleError names a cycle."""
    catalog = with_init_jobs(catalog)
    services = catalog.services if phase is None else catalog.in_phase(phase)
    edges = [
        Edge(source=name, target=dep, condition=condition(services, name, dep))
        for name, svc in services.items()
        for dep in svc.depends_on
        if dep in services
    ]
    return StartOrder(
        waves=start_waves(catalog, phase),
        edges=edges,
        nodes=list(services),
        roots=[name for name, svc in services.items() if not svc.depends_on],
    )


def schema(out: Path | None) -> str:
    """The catalog format as a JSON Schema document (draft 2020-12), for editors and CI; written to ``out``
    when given."""
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "aipair service catalog",
        **Catalog.model_json_schema(),
    }
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if out is not None:
        atomic_write(out, text, mode=0o644)
    return text
