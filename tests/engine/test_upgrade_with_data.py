"""`aipair upgrade validate --with-data` on a real engine: the candidate starts on a copy of the live
project's volume (migrating it), the originals keep their checksum, the live service runs again, the copies
are gone; without --with-data the candidate sees an empty volume; a candidate that destroys its data leaves
the originals intact. Images are made here (busybox) and pushed to a real local registry."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from typer.testing import CliRunner

from aipair.catalog import parse_catalog
from aipair.cli import app
from aipair.engines import volumes
from aipair.engines.secretstore import read_env
from aipair.ops.upgrade.validate import throwaway_catalog
from aipair.ops.upgrade.with_data import carried_secrets, plan

from ..helpers.registry import running_registry
from ..helpers.shell_images import push_shell_images
from ..helpers.upgrade import leftovers

runner = CliRunner()

PROJECT = "withdata"  # this test's own Compose projects: withdata and withdata-validate-store
LIVE_VOLUME = f"{PROJECT}_store-data"
SERVE = "echo ok {v} > /www/healthz && exec httpd -f -p 8000 -h /www"
KEY_HASH = 'echo "$STORE_KEY" | sha256sum | cut -c1-64'
STORES = {
    # v1 initialises schema 1 and records which key the data was made with (as a database keeps its password)
    "1.0.0": "mkdir -p /data /www && [ -f /data/schema ] || { echo 1 > /data/schema && "
    + KEY_HASH
    + " > /data/auth; } && "
    + SERVE.format(v="v1"),
    # v2 refuses data made with another key, and migrates schema 1 to 2 on start
    "2.0.0": 'mkdir -p /data /www; if [ -f /data/auth ] && [ "$(cat /data/auth)" != "$('
    + KEY_HASH
    + ')" ]; then echo "store 2: this data was made with another key" >&2; exit 1; fi; '
    "if [ \"$(cat /data/schema 2>/dev/null)\" = 1 ]; then echo 2 > /data/schema && echo 'migrated 1 to 2' >> /data/log; "
    "fi; [ -f /data/schema ] || echo 2 > /data/schema; " + SERVE.format(v="v2"),
    # 3.0.0 destroys what it finds
    "3.0.0": "mkdir -p /data /www; rm -rf /data/* /data/.[!.]*; echo 2 > /data/schema; " + SERVE.format(v="v3"),
}


@pytest.fixture(scope="module")
def stores(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry holding withdata/store at 1.0.0, 2.0.0 and 3.0.0 (also kept on the engine); yields the
    repository."""
    client = docker.DockerClient(base_url=docker_host, timeout=120)
    with running_registry(tmp_path_factory.mktemp("withdata-registry")) as address:
        repository = f"{address}/withdata/store"
        try:
            push_shell_images(client, repository, STORES)
            yield repository
        finally:
            for tag in STORES:
                with contextlib.suppress(docker.errors.ImageNotFound):
                    client.images.remove(f"{repository}:{tag}", force=True)


def _catalog_data(image: str) -> dict[str, Any]:
    health = {"type": "http", "port": 8000, "path": "/healthz", "probe": "wget", "interval": "1s", "retries": 5,
              "start_period": "1s", "timeout": "2s"}  # fmt: skip
    return {
        "version": 1,
        "project": {"name": PROJECT, "domain": "wd.example.com", "tls": {"acme_email": "o@wd.example.com"}},
        "secrets": {"STORE_KEY": {"description": "guards the store's data", "generate": {}}},
        "services": {
            "store": {
                "layer": "data",
                "kind": "stateful",
                "mock": False,
                "init": True,
                "image": image,
                "env": {"STORE_KEY": "${STORE_KEY}"},
                "ports": [{"port": 8000}],
                "health": health,
                "volumes": [{"name": "data", "path": "/data"}],
                "smoke": [
                    {"name": "live-rows", "command": ["cat", "/data/rows"], "contains": "live-row-42"},
                    {"name": "migrated", "command": ["cat", "/data/log"], "contains": "migrated 1 to 2"},
                ],
            }
        },
    }


def _validate(catalog: Path, version: str, *extra: str) -> Any:
    return runner.invoke(
        app,
        ["upgrade", "validate", "store", version, "--catalog", str(catalog), "--no-inspect", "--json",
         "--timeout", "30", *extra],
    )  # fmt: skip


def _live_store(client: Any) -> Any:
    (container,) = client.containers.list(
        all=True, filters={"label": [f"com.docker.compose.project={PROJECT}", "com.docker.compose.service=store"]}
    )
    return container


def _wait_healthy(container: Any, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        container.reload()
        health = container.attrs["State"].get("Health", {}).get("Status", "")
        if health == "healthy" or time.monotonic() > deadline:
            return f"{container.status}/{health}"
        time.sleep(0.5)


def test_candidate_migrates_a_copy_of_the_live_data_and_the_originals_stay_intact(
    stores: str, docker_host: str, tmp_path: Path
) -> None:
    client = docker.DockerClient(base_url=docker_host, timeout=120)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(_catalog_data(f"{stores}:1.0.0")))
    deployed = runner.invoke(app, ["deploy", "--catalog", str(catalog), "--timeout", "60"])
    assert deployed.exit_code == 0, deployed.output
    try:
        live = _live_store(client)
        assert live.exec_run(["sh", "-c", "echo live-row-42 > /data/rows"]).exit_code == 0
        before = volumes.digest(client, LIVE_VOLUME)
        live_key = read_env(tmp_path / "compose" / ".env")["STORE_KEY"]

        passed = _validate(catalog, "2.0.0", "--with-data")

        assert passed.exit_code == 0, passed.output
        report = json.loads(passed.stdout)
        assert report["ok"] and report["stage"] == "passed" and report["torn_down"], report
        assert [(s["name"], s["ok"]) for s in report["smoke"]] == [("live-rows", True), ("migrated", True)]
        data = report["data"]
        assert data["ok"] and data["restarted"] and data["stopped"] == ["store"] and data["secrets"] == ["STORE_KEY"]
        assert 0 < data["stopped_seconds"] < 60
        (copy,) = data["volumes"]
        assert (copy["volume"], copy["source"], copy["target"], copy["copied"]) == (
            "store-data", LIVE_VOLUME, f"{PROJECT}-validate-store_store-data", True,
        )  # fmt: skip
        assert copy["bytes"] > 0 and copy["seconds"] >= 0
        assert live_key not in passed.output  # the carried-over secret is named, never shown
        # the original was only read; the live service runs again, same container, still on schema 1
        assert volumes.digest(client, LIVE_VOLUME) == before
        assert _live_store(client).id == live.id and _wait_healthy(live) == "running/healthy"
        assert live.exec_run(["cat", "/data/schema"]).output == b"1\n"
        assert leftovers(client, f"{PROJECT}-validate-store") == []
        assert not volumes.exists(client, copy["target"])

        # without --with-data the candidate starts on an empty volume: no live rows, nothing to migrate
        empty = _validate(catalog, "2.0.0")
        assert empty.exit_code == 1, empty.output
        report = json.loads(empty.stdout)
        assert report["stage"] == "smoke" and report["data"] is None
        assert [(s["name"], s["ok"]) for s in report["smoke"]] == [("live-rows", False), ("migrated", False)]
        assert leftovers(client, f"{PROJECT}-validate-store") == []

        # a candidate that destroys its data destroys only the copy
        destroyed = _validate(catalog, "3.0.0", "--with-data")
        assert destroyed.exit_code == 1, destroyed.output
        report = json.loads(destroyed.stdout)
        assert report["stage"] == "smoke" and report["data"]["ok"] and report["data"]["volumes"][0]["copied"]
        assert not report["smoke"][0]["ok"]
        assert volumes.digest(client, LIVE_VOLUME) == before
        assert _wait_healthy(_live_store(client)) == "running/healthy"
        assert leftovers(client, f"{PROJECT}-validate-store") == []

        # a copy that cannot be made (the target name is taken) fails at stage "data": nothing started or stopped
        volumes.create(client, copy["target"], {"io.aipair.test": "with-data"})
        blocked = _validate(catalog, "2.0.0", "--with-data")
        assert blocked.exit_code == 1, blocked.output
        report = json.loads(blocked.stdout)
        assert report["stage"] == "data" and not report["data"]["ok"] and report["services"] == []
        assert report["data"]["stopped"] == [] and "exists already" in report["logs"]["(data)"]
        assert _live_store(client).id == live.id and volumes.digest(client, LIVE_VOLUME) == before
    finally:
        volumes.remove(client, f"{PROJECT}-validate-store_store-data")
        runner.invoke(app, ["down", "--volumes", "--yes", "--catalog", str(catalog)])
    assert leftovers(client, PROJECT) == []


def test_plan_copies_a_shared_volume_once_and_stops_only_its_writers() -> None:
    data = _catalog_data("registry.example.com/withdata/store:1.0.0")
    store = data["services"]["store"]
    store["kind"] = "stateless"  # a stateful service's volumes are per replica: never shared
    data["services"]["worker"] = {
        **{k: store[k] for k in ("layer", "mock", "image", "health", "ports")},
        "env": {"OTHER": "${OTHER_KEY}"},
        "depends_on": ["store"],
        "volumes": [{"name": "data", "path": "/data", "shared_from": "store"}],
    }
    data["services"]["viewer"] = {
        **{k: store[k] for k in ("layer", "mock", "image", "health", "ports")},
        "volumes": [{"name": "data", "path": "/data", "shared_from": "store", "read_only": True}],
    }
    data["secrets"]["OTHER_KEY"] = {"generate": {}}
    live = parse_catalog(yaml.safe_dump(data), source="catalog.yaml")
    trial = throwaway_catalog(live, "worker", "2.0.0")

    (planned,) = plan(live, trial, PROJECT, f"{PROJECT}-validate-worker")

    assert (planned.volume, planned.source, planned.target, planned.owner) == (
        "store-data", LIVE_VOLUME, f"{PROJECT}-validate-worker_store-data", "store",
    )  # fmt: skip
    assert planned.writers == ("store", "worker")  # the read-only viewer keeps running
    assert carried_secrets(live, trial, [planned]) == ["STORE_KEY", "OTHER_KEY"]
