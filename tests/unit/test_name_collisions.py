"""M7: catalog names joined into one engine name (volumes, Traefik routers, Kubernetes objects) are refused
at validation, at both places, each naming the other; and the list of joins matches what is rendered."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from aipair.catalog.loader import load_catalog, parse_catalog
from aipair.catalog.names import rendered_names
from aipair.errors import CatalogError, Problem
from aipair.render.compose import render_compose
from aipair.render.databases import with_init_jobs
from aipair.render.kubernetes import render_kubernetes
from tests.helpers.paths import CATALOGS

HEAD = """\
version: 1
project:
  name: demo
  domain: demo.example.com
  reverse_proxy: proxy
  tls: {acme_email: ops@demo.example.com}
services:
  proxy:
    layer: management
    phases: [mvp]
    image: traefik:v3.6.13
    ports:
      - {name: web, port: 80, publish: 80}
    health: {type: command, command: [traefik, healthcheck, --ping]}
    docker_socket: true
    public_with_docker_socket: true
"""


def _service(name: str, body: str, kind: str = "stateless", phases: str = "[mvp, scale]") -> str:
    return (
        f"  {name}:\n    layer: data\n    kind: {kind}\n    phases: {phases}\n    image: busybox:1.36.1\n"
        '    health: {type: command, command: ["true"]}\n' + body
    )


def _problems(text: str) -> list[Problem]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, source="cat.yaml")
    return caught.value.problems


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def _assert_pair(
    problems: list[Problem], text: str, first: tuple[str, str], second: tuple[str, str], kind: str
) -> None:
    """Both places reported, each at its own line and field, each message naming the other field."""
    found = {p.field: p for p in problems if kind in p.message}
    assert set(found) == {first[0], second[0]}, problems
    for (field, needle), (other_field, _) in ((first, second), (second, first)):
        problem = found[field]
        assert problem.file == "cat.yaml" and problem.line == _line_of(text, needle), problem
        assert other_field in problem.message and "rename one" in problem.message, problem.message


def test_two_volumes_joined_to_one_compose_volume_are_refused() -> None:
    text = (
        HEAD
        + _service("db", "    volumes:\n      - {name: backup-data, path: /a}\n", kind="stateful", phases="[mvp]")
        + _service("db-backup", "    volumes:\n      - {name: data, path: /b}\n", phases="[mvp]")
    )
    problems = _problems(text)
    _assert_pair(
        problems,
        text,
        ("services.db.volumes[0].name", "name: backup-data"),
        ("services.db-backup.volumes[0].name", "name: data"),
        "Compose volume 'db-backup-data'",
    )


def test_two_volumes_joined_to_one_persistent_volume_claim_are_refused() -> None:
    text = (
        HEAD
        + _service("cache", "    volumes:\n      - {name: hot-data, path: /a}\n", phases="[scale]")
        + _service("cache-hot", "    volumes:\n      - {name: data, path: /b}\n", phases="[scale]")
    )
    _assert_pair(
        _problems(text),
        text,
        ("services.cache.volumes[0].name", "name: hot-data"),
        ("services.cache-hot.volumes[0].name", "name: data"),
        "Kubernetes PersistentVolumeClaim 'cache-hot-data'",
    )


def test_a_volume_claim_template_and_a_claim_of_the_same_name_are_refused() -> None:
    # a StatefulSet's template `data` makes the claim data-pg-0; a Deployment `data` with volume `pg-0` makes it too
    text = (
        HEAD
        + _service("pg", "    volumes:\n      - {name: data, path: /a}\n", kind="stateful", phases="[scale]")
        + _service("data", "    volumes:\n      - {name: pg-0, path: /b}\n", phases="[scale]")
    )
    _assert_pair(
        _problems(text),
        text,
        ("services.pg.volumes[0].name", "name: data, path: /a"),
        ("services.data.volumes[0].name", "name: pg-0"),
        "Kubernetes PersistentVolumeClaim 'data-pg-0'",
    )


def test_two_public_ports_joined_to_one_traefik_router_are_refused() -> None:
    ports = '    ports:\n      - {{name: {port}, port: 8080, public: {{hostname: "{host}.{{domain}}"}}}}\n'
    text = (
        HEAD
        + _service("api", ports.format(port="admin-http", host="a"), phases="[mvp]")
        + _service("api-admin", ports.format(port="http", host="b"), phases="[mvp]")
    )
    _assert_pair(
        _problems(text),
        text,
        ("services.api.ports[0].name", "name: admin-http"),
        ("services.api-admin.ports[0].name", "name: http,"),
        "Traefik router 'api-admin-http'",
    )


@pytest.mark.parametrize("reserved", ["default-deny", "allow-dns", "allow-monitoring"])
def test_a_service_named_like_a_fixed_network_policy_is_refused(reserved: str) -> None:
    text = HEAD + _service(reserved, "", phases="[scale]")
    problems = [p for p in _problems(text) if "NetworkPolicy" in p.message]
    assert [(p.line, p.field) for p in problems] == [(_line_of(text, f"  {reserved}:"), f"services.{reserved}")]
    assert "a NetworkPolicy aipair renders in every namespace" in problems[0].message


def test_names_in_different_phases_or_kinds_do_not_collide() -> None:
    # the Compose volume db-backup-data exists only in mvp, the claim only in scale: two engines, no collision
    text = (
        HEAD
        + _service("db", "    volumes:\n      - {name: backup-data, path: /a}\n", phases="[mvp]")
        + _service("db-backup", "    volumes:\n      - {name: data, path: /b}\n", phases="[scale]")
        + _service("web", "    volumes:\n      - {name: data, path: /c}\n      - {name: data2, path: /d}\n")
    )
    parse_catalog(text, source="cat.yaml")


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.name)
def test_the_joins_checked_are_the_names_rendered(path: Path) -> None:
    """rendered_names is what the renderers make: a join added to a renderer but not checked fails here."""
    catalog = with_init_jobs(load_catalog(path))
    made: dict[str, set[str]] = {}
    for item in rendered_names(load_catalog(path)):
        made.setdefault(item.kind, set()).add(item.name)

    document, _ = render_compose(catalog)
    routers = {
        match.group(1)
        for svc in document["services"].values()
        for label in svc.get("labels", {})
        if (match := re.fullmatch(r"traefik\.http\.routers\.([^.]+)\.rule", label))
    }
    assert made.get("Compose volume", set()) == set(document.get("volumes", {}))
    assert made.get("Compose config", set()) == set(document.get("configs", {}))
    assert made.get("Traefik router", set()) == routers

    groups, _ = render_kubernetes(catalog)
    objects: list[dict[str, Any]] = [obj for group in groups.values() for obj in group]
    by_kind: dict[str, set[str]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], set()).add(obj["metadata"]["name"])
        for template in obj.get("spec", {}).get("volumeClaimTemplates", []):
            for ordinal in range(obj["spec"]["replicas"]):
                by_kind.setdefault("PersistentVolumeClaim", set()).add(
                    f"{template['metadata']['name']}-{obj['metadata']['name']}-{ordinal}"
                )
        for tls in obj.get("spec", {}).get("tls", []) if obj["kind"] == "Ingress" else []:
            by_kind.setdefault("Secret", set()).add(tls["secretName"])
    for kind in ("PersistentVolumeClaim", "ConfigMap", "NetworkPolicy"):
        assert made.get(f"Kubernetes {kind}", set()) == by_kind.get(kind, set()), kind
    project_secret = f"{catalog.project.name}-secrets"  # made by the Pulumi program, not rendered
    assert made["Kubernetes Secret"] - {project_secret} == by_kind.get("Secret", set())
    assert yaml.safe_dump(sorted(made))  # the kinds are plain strings
