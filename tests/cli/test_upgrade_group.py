"""A lockstep group (`upgrade.group`) applied, recorded and rolled back together, and listed once for validation.

No Docker engine: the registry is a real OCI registry (Debian's docker-registry, tests/helpers/registry.py); the
passing validations are written with the ledger's own functions (the engine test of validating a group for real
is tests/engine/test_upgrade_group.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aipair.ops.upgrade import ledger
from aipair.ops.upgrade.apply import HISTORY

from ..helpers.commands import cli
from ..helpers.registry import push, running_registry

Registry = tuple[str, dict[str, dict[str, str]]]


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A real OCI registry with api, gui and cache at 2.0.0 and 2.1.0 (each tag its own digest)."""
    with running_registry(tmp_path_factory.mktemp("group-registry")) as address:
        yield address, {name: push(address, f"aipair/{name}", ["2.0.0", "2.1.0"]) for name in ("api", "gui", "cache")}


def catalog_text(address: str) -> str:
    """api and gui in group `tracardi` (gui's image quoted, api's commented), cache on its own."""
    return (
        "# hand-written: comments must survive\n"
        "version: 1\n"
        "project: {name: grpapply, domain: grpapply.example.com, tls: {acme_email: o@grpapply.example.com}}\n"
        "services:\n"
        "  cache:\n"
        "    layer: data\n"
        "    kind: stateful\n"
        f"    image: {address}/aipair/cache:2.0.0\n"
        "    ports: [{port: 6379}]\n"
        "    health: {type: tcp, port: 6379}\n"
        "  api:  # the Tracardi API\n"
        "    layer: application\n"
        f"    image: {address}/aipair/api:2.0.0  # moves with the GUI\n"
        "    ports: [{port: 8686}]\n"
        "    health: {type: tcp, port: 8686}\n"
        "    depends_on: [cache]\n"
        "    upgrade: {group: tracardi}\n"
        "  gui:\n"
        "    layer: application\n"
        f"    image: '{address}/aipair/gui:2.0.0'\n"
        "    ports: [{port: 80}]\n"
        "    health: {type: tcp, port: 80}\n"
        "    depends_on: [api]\n"
        "    upgrade:\n"
        "      group: tracardi  # lockstep\n"
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _without_locks(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if not k.endswith(".lock")}


def _attest(path: Path, pins: dict[str, str], tag: str, members: list[str]) -> None:
    """A passing validation record of ``pins`` for the catalog context over ``members``."""
    context = ledger.context_hash(path.read_text(), members)
    record = ledger.group_validation_record(
        pins=pins, tag=tag, context=context, passed=True, stage="passed", report="sha256:" + "0" * 64
    )
    ledger.append(path, record)


def test_apply_of_one_member_pins_every_member_in_one_edit_and_rollback_of_another_restores_all(
    registry: Registry, tmp_path: Path
) -> None:
    address, digests = registry
    path = tmp_path / "catalog.yaml"
    original = catalog_text(address)
    path.write_text(original)
    pins = {"api": digests["api"]["2.1.0"], "gui": digests["gui"]["2.1.0"]}
    _attest(path, pins, "2.1.0", ["api", "gui"])

    applied = cli("upgrade", "apply", "api", "2.1.0", "--catalog", str(path), "--json")
    assert applied.exit_code == 0, applied.output
    result = json.loads(applied.stdout)
    api, gui = (f"{address}/aipair/{n}:2.1.0@{pins[n]}" for n in ("api", "gui"))
    # exactly the two image scalars changed: quotes, comments and every other line as they were
    assert path.read_text() == original.replace(f"{address}/aipair/api:2.0.0", api).replace(
        f"{address}/aipair/gui:2.0.0", gui
    )
    assert (result["service"], result["group"], result["image"]) == ("api", "tracardi", api)
    assert [(m["service"], m["image"]) for m in result["members"]] == [("api", api), ("gui", gui)]
    assert f"api:2.1.0@{pins['api']}" in (tmp_path / "compose" / "docker-compose.yml").read_text()
    assert f"gui:2.1.0@{pins['gui']}" in (tmp_path / "compose" / "docker-compose.yml").read_text()
    history = json.loads((tmp_path / HISTORY).read_text())
    assert [(e["service"], e["to"], e["group"]) for e in history] == [
        ("api", api, "tracardi"),
        ("gui", gui, "tracardi"),
    ]
    assert history[0]["change"] == history[1]["change"]
    assert len(ledger.read(tmp_path / "upgrade-ledger.jsonl")) == 1  # a validated apply adds no record
    # the record still fits the catalog it produced (only the attested scalars changed)
    assert (
        ledger.context_hash(path.read_text(), ["api", "gui"])
        == ledger.read(tmp_path / "upgrade-ledger.jsonl")[0].catalog
    )

    rolled = cli("rollback", "gui", "--catalog", str(path), "--json")  # the other member: the group goes back
    assert rolled.exit_code == 0, rolled.output
    assert path.read_text() == original
    assert [(m["service"], m["image"]) for m in json.loads(rolled.stdout)["members"]] == [
        ("gui", f"{address}/aipair/gui:2.0.0"),
        ("api", f"{address}/aipair/api:2.0.0"),
    ]
    assert json.loads((tmp_path / HISTORY).read_text()) == []
    again = cli("rollback", "api", "--catalog", str(path), "--json")
    assert again.exit_code != 0 and "no recorded upgrade of 'api'" in json.loads(again.stdout)["error"]


def test_a_member_with_its_own_tag_shape_is_pinned_and_recorded_at_its_own_tag(
    registry: Registry, tmp_path: Path
) -> None:
    """gui is tagged v2.0.0 where api is 2.0.0: the group's 2.1.0 is gui's v2.1.0, listed once, applied and
    recorded so (gui:2.1.0 does not exist in its registry)."""
    address, _ = registry
    gui = push(address, "aipair/gui", ["v2.0.0", "v2.1.0"])
    api = push(address, "aipair/api", ["2.0.0", "2.1.0"])  # the same digests as the fixture's
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(address).replace("aipair/gui:2.0.0", "aipair/gui:v2.0.0"))
    candidates = tmp_path / "candidates.json"
    checked = cli(
        "upgrade", "check", "--no-inspect", "--candidates-file", str(candidates), "--catalog", str(path), "--json"
    )
    assert checked.exit_code == 10, checked.output
    assert {"service": "api", "version": "2.1.0", "group": "tracardi"} in json.loads(candidates.read_text())

    applied = cli("upgrade", "apply", "api", "2.1.0", "--unvalidated", "--catalog", str(path), "--json")
    assert applied.exit_code == 0, applied.output
    assert [(m["service"], m["image"]) for m in json.loads(applied.stdout)["members"]] == [
        ("api", f"{address}/aipair/api:2.1.0@{api['2.1.0']}"),
        ("gui", f"{address}/aipair/gui:v2.1.0@{gui['v2.1.0']}"),
    ]
    [record] = ledger.read(tmp_path / "upgrade-ledger.jsonl")
    assert (record.verdict, [(s.name, s.tag, s.digest) for s in record.services]) == (
        "unvalidated",
        [("api", "2.1.0", api["2.1.0"]), ("gui", "v2.1.0", gui["v2.1.0"])],
    )


def test_a_record_of_one_member_alone_does_not_count_for_the_group(registry: Registry, tmp_path: Path) -> None:
    address, digests = registry
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(address))
    api = digests["api"]["2.1.0"]
    _attest(path, {"api": api}, "2.1.0", ["api"])  # validated alone, in its own context
    _attest(path, {"api": api}, "2.1.0", ["api", "gui"])  # alone, even in the group's context
    before = _snapshot(tmp_path)

    refused = cli("upgrade", "apply", "gui", "2.1.0", "--catalog", str(path), "--json")
    assert refused.exit_code == 2, refused.output
    error = json.loads(refused.stdout)["error"]
    assert "the group gui, api at 2.1.0" in error
    assert "attests api without the rest of the group" in error and "validated together" in error
    assert "`aipair upgrade validate gui 2.1.0" in error
    assert _without_locks(_snapshot(tmp_path)) == _without_locks(before)  # nothing written

    # --unvalidated: one record for the whole group
    forced = cli("upgrade", "apply", "gui", "2.1.0", "--unvalidated", "--catalog", str(path), "--json")
    assert forced.exit_code == 0, forced.output
    last = ledger.read(tmp_path / "upgrade-ledger.jsonl")[-1]
    assert last.verdict == "unvalidated"
    assert [(s.name, s.tag, s.digest) for s in last.services] == [
        ("gui", "2.1.0", digests["gui"]["2.1.0"]),
        ("api", "2.1.0", api),
    ]
    assert "cache:2.0.0" in path.read_text()  # not in the group: untouched


def test_the_candidates_file_lists_a_group_once(registry: Registry, tmp_path: Path) -> None:
    address, _ = registry
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(address))
    candidates = tmp_path / "candidates.json"
    checked = cli(
        "upgrade", "check", "--no-inspect", "--candidates-file", str(candidates), "--catalog", str(path), "--json"
    )
    assert checked.exit_code == 10, checked.output
    assert {row["service"]: row["candidate"] for row in json.loads(checked.stdout)["services"]} == {
        "cache": "2.1.0",
        "api": "2.1.0",
        "gui": "2.1.0",
    }
    # one validation for the group (validating a member validates all), one for cache
    assert json.loads(candidates.read_text()) == [
        {"service": "cache", "version": "2.1.0"},
        {"service": "api", "version": "2.1.0", "group": "tracardi"},
    ]


def test_a_member_that_breaks_an_assumption_fails_the_group_before_anything_runs(
    registry: Registry, tmp_path: Path
) -> None:
    """No engine is reached: the images are read from the registry and the group fails at stage "image"."""
    address, _ = registry
    push(address, "aipair/api", ["2.2.0"])
    push(address, "aipair/gui", ["2.2.0"], architecture="arm64")  # breaks the catalog's assumptions
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(address))
    result = cli("upgrade", "validate", "api", "2.2.0", "--catalog", str(path), "--host", "tcp://127.0.0.1:9")
    assert result.exit_code == 1, result.output
    assert "image of gui platform: linux/amd64 not offered" in result.output
    assert "failed at image (gui failed): group tracardi (api, gui) 2.2.0" in result.output
    [record] = ledger.read(tmp_path / "upgrade-ledger.jsonl")
    assert (record.verdict, record.stage, [s.name for s in record.services]) == ("failed", "image", ["api", "gui"])


def test_a_member_in_its_own_tag_shape_is_read_at_its_own_tag_before_anything_runs(
    registry: Registry, tmp_path: Path
) -> None:
    """gui is tagged v…: its candidate image is read at v2.2.0 (which breaks an assumption), not at 2.2.0."""
    address, _ = registry
    push(address, "aipair/api", ["2.2.0"])
    push(address, "aipair/gui", ["v2.0.0"])
    push(address, "aipair/gui", ["v2.2.0"], architecture="arm64")
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(address).replace("aipair/gui:2.0.0", "aipair/gui:v2.0.0"))
    result = cli("upgrade", "validate", "api", "2.2.0", "--catalog", str(path), "--host", "tcp://127.0.0.1:9")
    assert result.exit_code == 1, result.output
    assert "image of gui platform: linux/amd64 not offered" in result.output
