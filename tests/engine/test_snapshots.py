"""Snapshot before deploy, restore on rollback (issue 16, item 4), on a real Docker engine.

Locally made images (tests/helpers/shell_images.py): v1 writes `schema=1` into its empty volume and is healthy
only while it reads schema 1; v2 migrates the file to `schema=2` and then fails its health check; v2.1 migrates
and stays healthy. A failed v2 deploy with rollback brings v1 back on its schema-1 data, byte for byte; the
same deploy with --no-snapshot shows what that prevents: v1 back on schema-2 data, unhealthy.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from aipair.engines import snapshots as store
from aipair.engines import volumes

from ..helpers.catalogs import write
from ..helpers.commands import cli, invoke
from ..helpers.shell_images import import_shell_images
from ..helpers.snapshots import own_deployment

REPOSITORY = "aipair-test/snap-db"
HEALTH = "/health.sh"
IMAGES = {
    "1.0.0": "[ -s /data/schema ] || echo schema=1 > /data/schema; echo 'grep -qx schema=1 /data/schema' > /health.sh;"
    " exec tail -f /dev/null",
    "2.0.0": "echo schema=2 > /data/schema; echo 'exit 1' > /health.sh; exec tail -f /dev/null",
    "2.1.0": "echo schema=2 > /data/schema; echo 'grep -qx schema=2 /data/schema' > /health.sh; exec tail -f /dev/null",
}


@pytest.fixture(scope="module")
def client(docker_host: str) -> Any:
    engine = docker.DockerClient(base_url=docker_host, timeout=300)
    import_shell_images(engine, REPOSITORY, IMAGES)
    return engine


def _catalog(project: str, tag: str) -> dict[str, Any]:
    return {
        "version": 1,
        "project": {"name": project, "domain": f"{project}.example.com", "tls": {"acme_email": "ops@example.com"}},
        "defaults": {"soak": "0s"},
        "services": {
            "db": {
                "layer": "data",
                "kind": "stateful",
                "image": f"{REPOSITORY}:{tag}",
                "mock": False,
                "volumes": [{"name": "data", "path": "/data"}],
                "health": {
                    "type": "command",
                    "command": ["/bin/sh", HEALTH],
                    "interval": "1s",
                    "retries": 2,
                    "start_period": "1s",
                    "timeout": "2s",
                },
            }
        },
    }


@pytest.fixture()
def deployment(client: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, str]]:
    """A catalog of its own project (named after the test), taken down with its volumes and snapshots after."""
    with own_deployment(client, tmp_path, request, "snap", lambda project: _catalog(project, "1.0.0")) as made:
        yield made


def _deploy(catalog: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli("deploy", "--profile", "mock", "--catalog", str(catalog), "--timeout", "30", "--json", *extra)
    assert result.stdout, result.output
    return result.exit_code, json.loads(result.stdout)


def _roll_back_with_data(catalog: Path, *extra: str) -> Any:
    return cli(
        "rollback",
        "db",
        "--deploy",
        "--restore-data",
        "--profile",
        "mock",
        "--catalog",
        str(catalog),
        "--timeout",
        "30",
        *extra,
    )


def _db(client: Any, project: str) -> Any:
    (container,) = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}-mock"})
    return container


def _read(client: Any, project: str, path: str) -> str:
    code, output = _db(client, project).exec_run(["cat", path])
    assert code == 0, output
    return str(output.decode())


def _healthy(client: Any, project: str, want: str, within: float = 20) -> str:
    deadline = time.monotonic() + within
    while True:
        health = _db(client, project).attrs["State"]["Health"]["Status"]
        if health == want or time.monotonic() > deadline:
            return str(health)
        time.sleep(0.5)


def _archived(client: Any, snapshot: str) -> str:
    """The digest of what a snapshot volume's archive holds (extracted into a volume of its own)."""
    scratch = f"{snapshot[:200]}-check"
    volumes.create(client, scratch, {"io.aipair.test": "snapshots"})
    try:
        volumes.unarchive(client, snapshot, scratch)
        return volumes.digest(client, scratch)
    finally:
        volumes.remove(client, scratch)


def _v1_with_data(client: Any, catalog: Path, project: str) -> tuple[str, str]:
    """Deploy v1 (first deploy: nothing to snapshot), write some data; the live volume and its digest."""
    code, first = _deploy(catalog)
    assert code == 0, first
    assert first["snapshot"] is None  # a first deploy has no data to keep
    db = _db(client, project)
    assert db.exec_run(["/bin/sh", "-c", "echo 'customer 42' > /data/rows && mkdir -p /data/wal"])[0] == 0
    assert _read(client, project, "/data/schema") == "schema=1\n"
    volume = f"{project}-mock_db-data"
    return volume, volumes.digest(client, volume)


def test_a_failed_migration_is_rolled_back_with_its_data(client: Any, deployment: tuple[Path, str]) -> None:
    catalog, project = deployment
    volume, before = _v1_with_data(client, catalog, project)

    write(catalog.parent, _catalog(project, "2.0.0"))
    code, failed = _deploy(catalog, "--rollback-on-failure")
    assert code == 1 and failed["failed"] == ["db"]
    taken = failed["snapshot"]
    (entry,) = taken["entries"]
    assert (entry["service"], entry["volume"], entry["image"]) == ("db", volume, f"{REPOSITORY}:1.0.0")
    assert entry["bytes"] > 0 and entry["seconds"] > 0 and taken["stopped"] == ["db"]
    assert [r["volume"] for r in failed["restored_data"]] == [volume]
    assert failed["restored"] == [{"service": "db", "from": f"{REPOSITORY}:2.0.0", "to": f"{REPOSITORY}:1.0.0"}]

    # v1 runs again, healthy, on exactly the data it had before the v2 deploy
    assert _db(client, project).attrs["Config"]["Image"] == f"{REPOSITORY}:1.0.0"
    assert _healthy(client, project, "healthy") == "healthy"
    assert _read(client, project, "/data/schema") == "schema=1\n"
    assert volumes.digest(client, volume) == before

    # the set is on the engine, labelled, and holds the schema-1 data
    (kept,) = store.list_sets(client, f"{project}-mock")
    assert kept.id == taken["id"] and [e.snapshot for e in kept.entries] == [entry["snapshot"]]
    labels = client.volumes.get(entry["snapshot"]).attrs["Labels"]
    assert labels["io.aipair.snapshot"] == taken["id"] and labels["io.aipair.kind"] == "volume"
    assert labels["io.aipair.volume"] == volume and labels["io.aipair.project"] == f"{project}-mock"
    assert labels["io.aipair.bytes"] == str(entry["bytes"]) and labels["io.aipair.created"].endswith("+00:00")
    assert labels["io.aipair.format"] == "tar"
    assert _archived(client, entry["snapshot"]) == before


def test_without_a_snapshot_the_rollback_leaves_v1_on_migrated_data(client: Any, deployment: tuple[Path, str]) -> None:
    catalog, project = deployment
    volume, before = _v1_with_data(client, catalog, project)

    write(catalog.parent, _catalog(project, "2.0.0"))
    code, failed = _deploy(catalog, "--rollback-on-failure", "--no-snapshot")
    assert code == 1 and failed["snapshot"] is None and failed["restored_data"] == []
    assert failed["restored"] == [{"service": "db", "from": f"{REPOSITORY}:2.0.0", "to": f"{REPOSITORY}:1.0.0"}]
    # the image rolled back, the data did not: v1 reads schema 2 and is unhealthy
    assert _db(client, project).attrs["Config"]["Image"] == f"{REPOSITORY}:1.0.0"
    assert _read(client, project, "/data/schema") == "schema=2\n"
    assert _healthy(client, project, "unhealthy") == "unhealthy"
    assert volumes.digest(client, volume) != before
    assert store.list_sets(client, f"{project}-mock") == []


def test_rollback_restore_data_brings_back_the_data_of_the_old_version(
    client: Any, deployment: tuple[Path, str]
) -> None:
    from aipair.ops.upgrade.apply import change_image

    catalog, project = deployment
    volume, before = _v1_with_data(client, catalog, project)
    change_image(catalog, "db", f"{REPOSITORY}:2.1.0", record=True)  # as `upgrade apply` records it
    upgraded = cli("deploy", "--profile", "mock", "--catalog", str(catalog), "--timeout", "30")  # as people see it
    assert upgraded.exit_code == 0, upgraded.output
    (taken,) = store.list_sets(client, f"{project}-mock")
    assert f"snapshot {taken.id} before the deploy" in upgraded.stdout and volume in upgraded.stdout
    assert taken.entries[0].image == f"{REPOSITORY}:1.0.0"
    assert _read(client, project, "/data/schema") == "schema=2\n"
    migrated = volumes.digest(client, volume)

    refused = cli("rollback", "db", "--restore-data", "--profile", "mock", "--catalog", str(catalog))
    assert refused.exit_code == 2 and "add --deploy" in refused.output

    rolled = _roll_back_with_data(catalog, "--json")
    assert rolled.exit_code == 0, rolled.output
    assert f"{REPOSITORY}:1.0.0" in catalog.read_text()
    assert _db(client, project).attrs["Config"]["Image"] == f"{REPOSITORY}:1.0.0"
    assert _healthy(client, project, "healthy") == "healthy"
    assert volumes.digest(client, volume) == before
    # the schema-2 data was snapshotted on the way back, so the restore lost nothing for good
    newest = store.list_sets(client, f"{project}-mock")[0]
    assert newest.entries[0].image == f"{REPOSITORY}:2.1.0"
    assert _archived(client, newest.entries[0].snapshot) == migrated

    # nothing to restore (no set written by 2.1.0 for a roll back to it): refused, nothing changed
    change_image(catalog, "db", f"{REPOSITORY}:2.1.0", record=True)
    for each in store.list_sets(client, f"{project}-mock"):
        store.remove(client, each)
    text = catalog.read_text()
    refused = _roll_back_with_data(catalog)
    assert refused.exit_code != 0 and "no snapshot" in refused.output
    assert catalog.read_text() == text


def test_list_prune_and_restore(client: Any, tmp_path: Path) -> None:
    project = "snapprune"
    catalog = write(tmp_path, _catalog(project, "1.0.0"))
    compose = f"{project}-mock"
    live = f"{compose}_db-data"
    volumes.create(client, live, {"com.docker.compose.project": compose})
    now = dt.datetime.now(dt.UTC)
    try:
        ages = [dt.timedelta(days=40), dt.timedelta(days=3), dt.timedelta(days=2), dt.timedelta(days=1)]
        sets = [store.take(client, compose, [store.Source("db", live, "img:1")], now=now - age) for age in ages]
        listed = cli("snapshots", "list", "--profile", "mock", "--catalog", str(catalog), "--json")
        assert listed.exit_code == 0, listed.output
        ids = [each["id"] for each in json.loads(listed.stdout)["sets"]]
        assert ids == [each.id for each in reversed(sets)]  # newest first
        text = cli("snapshots", "list", "--profile", "mock", "--catalog", str(catalog))
        assert text.exit_code == 0 and all(each.id in text.stdout for each in sets) and "img:1" in text.stdout

        dry = cli(
            "snapshots", "prune", "--keep", "2", "--dry-run", "--profile", "mock", "--catalog", str(catalog), "--json"
        )
        assert dry.exit_code == 0, dry.output
        assert [each["id"] for each in json.loads(dry.stdout)["removed"]] == [sets[1].id, sets[0].id]
        assert len(store.list_sets(client, compose)) == 4  # a dry run removes nothing

        aged = cli("snapshots", "prune", "--max-age", "30d", "--profile", "mock", "--catalog", str(catalog), "--json")
        assert [each["id"] for each in json.loads(aged.stdout)["removed"]] == [sets[0].id]
        assert not volumes.exists(client, sets[0].entries[0].snapshot)
        kept = cli("snapshots", "prune", "--keep", "1", "--profile", "mock", "--catalog", str(catalog))
        assert kept.exit_code == 0 and "removed 2 sets" in kept.stdout
        assert [each.id for each in store.list_sets(client, compose)] == [sets[3].id]

        unknown = cli("snapshots", "restore", "nope", "--yes", "--profile", "mock", "--catalog", str(catalog))
        assert unknown.exit_code == 2 and "no snapshot set 'nope'" in unknown.output

        dry = cli("snapshots", "restore", sets[3].id, "--dry-run", "--profile", "mock", "--catalog", str(catalog))
        assert dry.exit_code == 0 and "would restore" in dry.stdout
        declined = invoke(
            ["snapshots", "restore", sets[3].id, "--profile", "mock", "--catalog", str(catalog)], {}, "n\n"
        )
        assert declined.exit_code == 1
        restored = cli(
            "snapshots", "restore", sets[3].id, "--yes", "--profile", "mock", "--catalog", str(catalog), "--json"
        )
        assert restored.exit_code == 0, restored.output
        assert [e["volume"] for e in json.loads(restored.stdout)["entries"]] == [live]
    finally:
        for each in store.list_sets(client, compose):
            store.remove(client, each)
        volumes.remove(client, live)


SEED = (
    "set -e; mkdir -p /d/sub/deep && printf 'v1\\n' > /d/sub/data && printf x > /d/.hidden && ln -s sub/data /d/link"
    " && ln /d/sub/data /d/hard && mkfifo /d/fifo && chown 1000:1000 /d/sub/data && chmod 0600 /d/sub/data"
    " && chown 999:999 /d && chmod 0700 /d && chown 70:70 /d/sub/deep && chmod 2750 /d/sub/deep"
    " && touch -d '2001-02-03 04:05:06' /d/.hidden && dd if=/dev/urandom of=/d/blob bs=64k count=16 2>/dev/null"
)
FACTS = (
    # a directory's time is not kept (busybox tar), a file's is
    "cd /d && stat -c '%n %a %u:%g %h' . sub sub/deep && stat -c '%n %a %u:%g %h %Y' .hidden sub/data hard fifo blob"
    " && readlink link"
    " && [ sub/data -ef hard ] && echo hard-linked && [ -p fifo ] && echo fifo"
)


def test_an_archive_keeps_owners_modes_times_links_and_dot_files_and_a_restore_replaces_the_tree(client: Any) -> None:
    from aipair.engines.mockimage import ensure_mock_image

    tag = f"snaparch{zlib.crc32(str(time.time()).encode()) % 10**6}"
    live, snap, other = f"{tag}_live", f"{tag}-snap", f"{tag}_other"
    image, _ = ensure_mock_image(client)

    def run(volume: str, script: str) -> str:
        out = client.containers.run(
            image, entrypoint=["/bin/sh", "-c", script], volumes={volume: {"bind": "/d", "mode": "rw"}}, remove=True
        )
        return str(out.decode())

    for name in (live, snap, other):
        volumes.create(client, name, {"io.aipair.test": "snapshots"})
    try:
        run(live, SEED)
        before, facts = volumes.digest(client, live), run(live, FACTS)
        made = volumes.archive(client, live, snap)
        assert made.bytes > 1024 * 1024 and made.target == f"{snap}/volume.tar"
        assert run(snap, "ls -A /d") == "volume.tar\n"  # one file, nothing else
        with pytest.raises(volumes.VolumeError) as again:
            volumes.archive(client, live, snap)
        assert "never overwritten" in str(again.value)

        run(other, "echo stale > /d/.stale && mkdir /d/old && echo x > /d/old/f")
        volumes.unarchive(client, snap, other)  # into a volume holding other files: they go
        assert volumes.digest(client, other) == before and run(other, FACTS) == facts
        run(live, "echo changed > /d/sub/data && rm /d/link && touch /d/new")
        volumes.unarchive(client, snap, live)
        assert volumes.digest(client, live) == before and run(live, FACTS) == facts

        empty = f"{tag}-empty"
        volumes.create(client, empty, {"io.aipair.test": "snapshots"})
        try:
            with pytest.raises(volumes.VolumeError) as refused:
                volumes.unarchive(client, empty, live)
            assert "missing or empty" in str(refused.value)
            assert volumes.digest(client, live) == before  # nothing was emptied
        finally:
            volumes.remove(client, empty)
    finally:
        for name in (live, snap, other):
            volumes.remove(client, name)
