"""Lockstep groups, pure parts: who moves together, the throw-away catalog of a group, and which ledger
records attest a group (one record naming every member at its digest, in the group's catalog context)."""

from __future__ import annotations

from aipair.catalog import parse_catalog
from aipair.ops.upgrade import ledger
from aipair.ops.upgrade.validate import project_name, throwaway_catalog
from aipair.ops.upgrade.versions import candidate_images, group_members

A, B, C = ("sha256:" + ch * 64 for ch in "abc")
CATALOG = """
version: 1
project: {name: grpunit, domain: grpunit.example.com, tls: {acme_email: o@grpunit.example.com}}
services:
  db: {layer: data, kind: stateful, image: r.example/db:1.0.0, ports: [{port: 5432}], health: {type: tcp, port: 5432}}
  es: {layer: data, kind: stateful, image: r.example/es:1.0.0, ports: [{port: 9200}], health: {type: tcp, port: 9200}}
  api: {layer: application, image: r.example/api:1.0.0, ports: [{port: 80}], health: {type: tcp, port: 80},
        depends_on: [db], upgrade: {group: tracardi}}
  gui: {layer: application, image: r.example/gui:1.0.0, ports: [{port: 80}], health: {type: tcp, port: 80},
        depends_on: [es], upgrade: {group: tracardi}}
  other: {layer: application, image: r.example/other:1.0.0, ports: [{port: 80}], health: {type: tcp, port: 80}}
"""


def test_a_group_moves_together_and_runs_with_the_union_of_its_dependencies() -> None:
    catalog = parse_catalog(CATALOG, source="catalog.yaml")
    assert group_members(catalog, "gui") == ["api", "gui"] and group_members(catalog, "other") == ["other"]
    candidates = candidate_images(catalog, "gui", "2.0.0")
    assert candidates == {"gui": "r.example/gui:2.0.0", "api": "r.example/api:2.0.0"}  # the asked one first
    trial = throwaway_catalog(catalog, "gui", "2.0.0", candidates)
    assert {name: svc.image for name, svc in trial.services.items()} == {
        "db": "r.example/db:1.0.0",
        "es": "r.example/es:1.0.0",
        "api": "r.example/api:2.0.0",
        "gui": "r.example/gui:2.0.0",
    }
    assert project_name(catalog, "api") == project_name(catalog, "gui") == "grpunit-validate-tracardi"
    assert project_name(catalog, "other") == "grpunit-validate-other"


def test_only_one_record_of_every_member_attests_the_group() -> None:
    context = "sha256:" + "d" * 64
    pins = {"api": A, "gui": B}

    def passed(record_pins: dict[str, str], catalog: str = context) -> ledger.Record:
        return ledger.group_validation_record(
            pins=record_pins, tag="2.0.0", context=catalog, passed=True, stage="passed", report=C
        )

    alone = [passed({"api": A}), passed({"gui": B})]  # each member passed, but never together
    assert ledger.find_passing_all(alone, pins, context) is None
    assert "attests gui without the rest of the group" in ledger.why_missing_all(alone, pins, "2.0.0", context)
    together = passed(pins)
    assert ledger.find_passing_all([*alone, together], pins, context) == together
    assert ledger.find_passing_all([passed({"api": A, "gui": C})], pins, context) is None  # gui at another digest
    assert ledger.find_passing_all([passed(pins, "sha256:" + "e" * 64)], pins, context) is None  # another catalog


def test_each_member_is_at_the_version_in_its_own_tag_shape() -> None:
    """Lockstep picks one version in each member's tag shape (api 2.1.0 is gui v2.1.0-alpine): validate and apply
    ask each member's registry for its own tag, not the asked member's text."""
    text = CATALOG.replace("r.example/gui:1.0.0", "r.example/gui:v1.0.0-alpine")
    catalog = parse_catalog(text, source="catalog.yaml")
    assert candidate_images(catalog, "api", "2.1.0") == {
        "api": "r.example/api:2.1.0",
        "gui": "r.example/gui:v2.1.0-alpine",
    }
    assert candidate_images(catalog, "gui", "v2.1.0-alpine") == {
        "gui": "r.example/gui:v2.1.0-alpine",
        "api": "r.example/api:2.1.0",
    }
    assert candidate_images(catalog, "api", "2.2.0-rc1")["gui"] == "r.example/gui:v2.2.0-alpine"
    assert candidate_images(catalog, "api", "latest")["gui"] == "r.example/gui:latest"  # no version: as given
