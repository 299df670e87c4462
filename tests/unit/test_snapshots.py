"""Which volumes and databases a deploy snapshots (ops.snapshots.plan), the retention policy (prune_plan), snapshot names and
ids, and the catalog's `defaults.snapshots` and `databases[].migrated_by`: pure, no engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from aipair.catalog import parse_catalog
from aipair.catalog.model import Catalog
from aipair.engines.snapshots import SnapshotEntry, SnapshotSet, new_id, snapshot_volume_name
from aipair.errors import CatalogError
from aipair.ops.snapshots import database_users, entry_kind, parse_age, plan, prune_plan
from aipair.render.compose import render_compose

from ..helpers.catalogs import minimal

PROJECT = "demo"


def _catalog(**changes: Any) -> Catalog:
    data = minimal()
    data["services"]["cache"]["kind"] = "stateful"
    data["services"]["db"] = {
        "layer": "data",
        "kind": "stateful",
        "image": "postgres:16.6-alpine",
        "secrets": [{"secret": "DB_PASSWORD", "env": "POSTGRES_PASSWORD"}],
        "ports": [{"name": "postgres", "port": 5432}],
        "health": {"type": "command", "command": ["pg_isready"]},
        "volumes": [{"name": "data", "path": "/var/lib/postgresql/data"}],
        "databases": [{"name": "app", "password": "APP_PW", "used_by": ["web"], "migrated_by": ["web"]}],
    }
    data["secrets"] |= {"DB_PASSWORD": {"generate": {}}, "APP_PW": {"generate": {}}}
    for path, value in changes.items():
        service, field = path.split("__")
        data["services"][service][field] = value
    return parse_catalog(yaml.safe_dump(data))


def _document(catalog: Catalog) -> dict[str, Any]:
    document, _ = render_compose(catalog)
    return document


VOLUMES = {"demo_cache-data", "demo_db-data"}


def _running(document: dict[str, Any], **overrides: str) -> dict[str, str]:
    return {name: service["image"] for name, service in document["services"].items()} | overrides


def test_first_deploy_plans_nothing() -> None:
    catalog = _catalog()
    assert plan(catalog, _document(catalog), PROJECT, {}, set()) == []


def test_unchanged_images_plan_nothing() -> None:
    catalog = _catalog()
    document = _document(catalog)
    assert plan(catalog, document, PROJECT, _running(document), VOLUMES) == []


def test_a_changed_stateful_service_snapshots_its_volumes() -> None:
    catalog = _catalog()
    document = _document(catalog)
    (entry,) = plan(catalog, document, PROJECT, _running(document, cache="redis:7.2.0"), VOLUMES)
    assert (entry.service, entry.volume, entry.image, entry.trigger, entry.kind) == (
        "cache",
        "demo_cache-data",
        "redis:7.2.0",
        "cache",
        "volume",
    )
    assert "redis:7.2.0 →" in entry.reason


def test_a_stateless_service_or_a_missing_volume_is_not_snapshotted() -> None:
    catalog = _catalog(cache__kind="stateless")
    document = _document(catalog)
    assert plan(catalog, document, PROJECT, _running(document, cache="redis:7.2.0"), VOLUMES) == []
    catalog = _catalog()
    assert plan(catalog, document, PROJECT, _running(document, cache="redis:7.2.0"), {"demo_db-data"}) == []


def test_a_changed_migrator_dumps_its_database_and_leaves_the_server_running() -> None:
    catalog = _catalog()
    document = _document(catalog)
    (entry,) = plan(catalog, document, PROJECT, _running(document, web="ghcr.io/demo/web:1.2.2"), VOLUMES)
    assert (entry.service, entry.volume, entry.image, entry.trigger, entry.kind, entry.database) == (
        "db",
        "",
        "postgres:16.6-alpine",
        "web",
        "dump",
        "app",
    )
    assert "web migrates database app" in entry.reason


def test_a_mocked_server_is_archived_instead() -> None:
    catalog = _catalog()
    mocked, _ = render_compose(catalog, profile="mock")  # the server is a busybox stand-in: nothing to dump
    running = _running(mocked, web="ghcr.io/demo/web:1.2.2")
    (entry,) = plan(catalog, mocked, "demo-mock", running, {"demo-mock_db-data"})
    assert (entry.kind, entry.volume) == ("volume", "demo-mock_db-data")


def test_two_migrators_of_one_database_dump_it_once_and_other_databases_too() -> None:
    catalog = _catalog(
        db__databases=[
            {"name": "app", "password": "APP_PW", "used_by": ["web"], "migrated_by": ["web", "cache"]},
            {"name": "jobs", "password": "APP_PW", "migrated_by": ["web"]},
            {"name": "quiet", "password": "APP_PW", "migrated_by": []},
        ]
    )
    document = _document(catalog)
    running = _running(document, web="ghcr.io/demo/web:1.2.2")
    planned = plan(catalog, document, PROJECT, running, VOLUMES)
    assert [(p.kind, p.database, p.trigger) for p in planned] == [("dump", "app", "web"), ("dump", "jobs", "web")]


def test_entry_kind_is_the_seam() -> None:
    catalog = _catalog()
    server = catalog.services["db"]
    assert entry_kind(server, server.databases[0]) == "dump"
    assert entry_kind(server, None) == "volume"
    assert entry_kind(server, server.databases[0], mocked=True) == "volume"


def test_dumped_databases_stop_their_users_never_their_server() -> None:
    catalog = _catalog()
    entry = SnapshotEntry(service="db", volume="", snapshot="s", image="i", kind="dump", database="app")
    assert database_users(catalog, [entry]) == ["web"]
    assert database_users(catalog, [entry.model_copy(update={"database": "gone"})]) == []
    assert database_users(None, [entry]) == []


def test_one_volume_is_planned_once_even_for_two_reasons() -> None:
    catalog = _catalog()
    document = _document(catalog)
    running = _running(document, web="ghcr.io/demo/web:1.2.2", db="postgres:16.5-alpine")
    planned = plan(catalog, document, PROJECT, running, VOLUMES)
    # the server changes too: its whole volume is archived (stopped), which holds the database: no dump
    assert [(p.service, p.trigger, p.kind) for p in planned] == [("db", "db", "volume")]


def _set(snapshot_id: str, age_days: float, project: str = "p") -> SnapshotSet:
    created = NOW - dt.timedelta(days=age_days)
    return SnapshotSet(id=snapshot_id, project=project, created=created, entries=[])


NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def test_retention_keeps_the_newest_per_project_and_drops_the_old() -> None:
    sets = [_set("5", 0), _set("4", 1), _set("3", 2), _set("2", 40), _set("1", 50), _set("9", 45, project="q")]
    removed = prune_plan(sets, keep=3, max_age=parse_age("30d"), now=NOW)
    assert [s.id for s in removed] == ["9", "2", "1"]  # q's only set is too old; p keeps its 3 newest
    removed = prune_plan(sets, keep=1, max_age=parse_age("365d"), now=NOW)
    assert [s.id for s in removed] == ["4", "3", "2", "1"]


def test_retention_never_removes_the_protected_set() -> None:
    sets = [_set("2", 100), _set("1", 200)]
    assert [s.id for s in prune_plan(sets, keep=0, max_age=1, now=NOW, protect={"2"})] == ["1"]


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("1d12h", 129600), ("90m", 5400), ("10s", 10)])
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


def test_a_bad_age_says_what_to_write() -> None:
    with pytest.raises(ValueError, match="such as 30d"):
        parse_age("a month")


def test_ids_sort_by_time_and_names_stay_within_the_engines_limit() -> None:
    early, late = new_id(NOW), new_id(NOW + dt.timedelta(seconds=1))
    assert early < late and early.startswith("20261207t120000z") and new_id(NOW) != early
    assert snapshot_volume_name("demo", early, "demo_db-data") == f"demo-snap-{early}-db-data"
    long = snapshot_volume_name("p" * 60, early, "v" * 300)
    assert len(long) == 255 and long != snapshot_volume_name("p" * 60, early, "v" * 299 + "w")


def test_catalog_defaults_and_overrides() -> None:
    assert _catalog().defaults.snapshots.model_dump() == {"enabled": True, "keep": 5, "max_age": "30d"}
    data = minimal()
    data["defaults"] = {"snapshots": {"keep": 2, "max_age": "7d", "enabled": False}}
    assert parse_catalog(yaml.safe_dump(data)).defaults.snapshots.keep == 2


def test_bad_snapshot_settings_name_the_field() -> None:
    data = minimal()
    data["defaults"] = {"snapshots": {"max_age": "a month"}}
    with pytest.raises(CatalogError) as caught:
        parse_catalog(yaml.safe_dump(data), source="catalog.yaml")
    assert "defaults.snapshots.max_age" in str(caught.value) and "30d" in str(caught.value)


def test_migrated_by_names_a_service_that_exists() -> None:
    with pytest.raises(CatalogError) as caught:
        _catalog(db__databases=[{"name": "app", "password": "APP_PW", "migrated_by": ["wbe"]}])
    message = str(caught.value)
    assert "services.db.databases[0].migrated_by[0]" in message and "unknown service 'wbe'" in message
    assert "web" in message  # the closest name is suggested
    with pytest.raises(CatalogError, match="does not migrate its own"):
        _catalog(db__databases=[{"name": "app", "password": "APP_PW", "migrated_by": ["db"]}])


@pytest.mark.parametrize("command", [["snapshots", "list"], ["snapshots", "prune"], ["snapshots", "restore"]])
def test_snapshot_commands_teach_with_examples(command: list[str]) -> None:
    from ..helpers.commands import cli

    result = cli(*command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout and "--catalog" in result.stdout


def test_restore_data_without_deploy_is_a_usage_error() -> None:
    from ..helpers.commands import cli

    result = cli("rollback", "web", "--restore-data")
    assert result.exit_code == 2 and "add --deploy" in result.output


def test_a_set_with_dumps_says_so_instead_of_a_size_it_does_not_know() -> None:
    from aipair.cli.present.snapshots import _set_size, what

    volume = SnapshotEntry(service="db", volume="p_db-data", snapshot="s1", image="i", bytes=2048)
    dump = SnapshotEntry(service="db", volume="", snapshot="s2", image="i", kind="dump", database="shop")
    assert what(dump) == "database shop (dump)" and what(volume) == "p_db-data"
    assert _set_size(_set("a", 0).model_copy(update={"entries": [volume]})) == "2.0 KB"
    assert _set_size(_set("a", 0).model_copy(update={"entries": [volume, dump]})) == "2.0 KB + 1 dump"
    assert _set_size(_set("a", 0).model_copy(update={"entries": [dump, dump]})) == "2 dumps"
