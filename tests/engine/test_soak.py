"""The soak after `aipair deploy`'s health gate on a real Docker engine (issue 16, item 5): an image that turns
healthy and crashes 10 s later fails the deploy during the soak, naming the service, and with
--rollback-on-failure the previous version runs again; a steady image passes; a health flap fails too.

The images are made here like aipair.engines.mockimage makes the mock: static busybox, `docker import`."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest

from aipair.ops.deploy import last_good_file

from ..helpers.catalogs import write
from ..helpers.commands import cli
from ..helpers.registry import free_port
from ..helpers.shell_images import import_shell_images

REPOSITORY = "aipair-test/soak-web"
PROJECT = "soaky"
PORT = free_port()  # not a fixed port: the upgrade tests' platform publishes 18200 on the same engine
SERVE = "mkdir -p /www && echo {text} > /www/index.html && httpd -p 8000 -h /www"  # httpd goes to the background
IMAGES = {
    "1.0.0": SERVE.format(text="v1") + " && exec tail -f /dev/null",
    # healthy within a second or two, then dies 10 s later: the health gate alone lets it through
    "1.1.0": SERVE.format(text="v2") + " && sleep 11 && echo 'web 1.1.0: lost its database connection' >&2 && exit 3",
    # the same crash sooner (5 s): for what only needs a crash during the soak, not its timing
    "1.1.1": SERVE.format(text="v2") + " && sleep 5 && echo 'web 1.1.1: lost its database connection' >&2 && exit 3",
    # healthy, then its health endpoint disappears: unhealthy without a restart
    "1.2.0": SERVE.format(text="v3") + " && sleep 6 && rm /www/index.html && exec tail -f /dev/null",
}


@pytest.fixture(scope="module")
def client(docker_host: str) -> Any:
    engine = docker.DockerClient(base_url=docker_host, timeout=120)
    import_shell_images(engine, REPOSITORY, IMAGES)
    return engine


def _catalog(tag: str) -> dict[str, Any]:
    return {
        "version": 1,
        "project": {"name": PROJECT, "domain": "soaky.example.com", "tls": {"acme_email": "ops@soaky.example.com"}},
        "defaults": {"soak": "2m"},  # the tests' --soak wins over it
        "services": {
            "web": {
                "layer": "application",
                "image": f"{REPOSITORY}:{tag}",
                "mock": False,
                "ports": [{"name": "http", "port": 8000, "publish": PORT}],
                "health": {
                    "type": "http",
                    "port": 8000,
                    "path": "/",
                    "probe": "wget",
                    "interval": "1s",
                    "retries": 2,
                    "start_period": "1s",
                    "timeout": "2s",
                },
            }
        },
    }


def _web(client: Any) -> Any:
    (container,) = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={PROJECT}-mock"})
    return container


def _deploy(catalog: Path, *extra: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    result = cli("deploy", "--profile", "mock", "--catalog", str(catalog), "--timeout", "60", "--json", *extra)
    return result.exit_code, json.loads(result.stdout), time.monotonic() - started


def test_a_crash_after_the_gate_fails_the_soak_and_rolls_back(client: Any, tmp_path: Path) -> None:
    catalog = write(tmp_path, _catalog("1.0.0"))
    try:
        code, steady, took = _deploy(catalog, "--soak", "3s")
        assert code == 0, steady
        assert steady["soak"]["ok"] and steady["soak"]["watched"] == {"web": 3.0} and took >= 3
        assert steady["soak"]["problems"] == [] and steady["soak"]["elapsed"] == pytest.approx(3.0, abs=0.5)
        code, again, took = _deploy(catalog)  # nothing changed: no soak, and not the catalog's 2 minutes
        assert code == 0 and again["soak"]["skipped"] and took < 30

        write(tmp_path, _catalog("1.1.0"))
        code, rolled, took = _deploy(catalog, "--soak", "40s", "--rollback-on-failure")
        assert code == 1
        assert rolled["failed"] == ["web"]
        (problem,) = rolled["soak"]["problems"]
        assert (problem["service"], problem["what"]) == ("web", "exited with code 3")
        assert 8 <= problem["after"] <= 20  # after the gate, and the soak stopped at once, not after 40 s
        assert "lost its database connection" in rolled["logs"]["web"]
        assert rolled["restored"] == [{"service": "web", "from": f"{REPOSITORY}:1.1.0", "to": f"{REPOSITORY}:1.0.0"}]
        web = _web(client)
        assert web.attrs["Config"]["Image"] == f"{REPOSITORY}:1.0.0"
        assert web.attrs["State"]["Health"]["Status"] == "healthy"
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=5) as response:
            assert response.read() == b"v1\n"

        # without --rollback-on-failure the failed version stays, and the last good deploy is still 1.0.0;
        # the terminal output names the service and what happened
        write(tmp_path, _catalog("1.1.1"))
        text = cli("deploy", "--profile", "mock", "--catalog", str(catalog), "--timeout", "60", "--soak", "40s")
        assert text.exit_code == 1
        assert "web exited with code 3" in text.stderr and "into the soak" in text.stderr
        assert "web failed its soak; its last log lines:" in text.stderr
        assert "soak failed" in text.stdout and "not ready: web" in text.stdout
        assert "restored" not in text.stdout
        assert _web(client).attrs["Config"]["Image"] == f"{REPOSITORY}:1.1.1"
        last_good = last_good_file(tmp_path, "mock", None).read_text()
        assert f"{REPOSITORY}:1.0.0" in last_good and f"{REPOSITORY}:1.1" not in last_good
    finally:
        cli("down", "--volumes", "--yes", "--profile", "mock", "--catalog", str(catalog))


def test_a_health_flap_fails_the_soak(client: Any, tmp_path: Path) -> None:
    catalog = write(tmp_path, _catalog("1.2.0"))
    try:
        code, flapped, _ = _deploy(catalog, "--soak", "30s")
        assert code == 1 and flapped["failed"] == ["web"]
        (problem,) = flapped["soak"]["problems"]
        assert (problem["service"], problem["what"]) == ("web", "turned unhealthy after being healthy")
        assert problem["after"] < 25
        assert _web(client).attrs["RestartCount"] == 0  # no restart: the health check alone saw it
    finally:
        cli("down", "--volumes", "--yes", "--profile", "mock", "--catalog", str(catalog))
