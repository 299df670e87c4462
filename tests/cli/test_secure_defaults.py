"""H1 and M10: a service holding the Docker socket is root on the host, and the catalog, the renderers and the
output say so. The default catalog keeps Portainer off the internet (no public route, 9443 on loopback) with its
admin password preset from a generated secret; a socket holder made public without opting in is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipair.catalog import load_catalog
from aipair.catalog.model import Service
from aipair.cli import app
from aipair.render.compose import render_compose

from ..helpers.paths import CATALOGS, DEFAULT_CATALOG

runner = CliRunner()
SECRET_FILE = "/run/secrets/portainer_admin_password"

SOCKET_HOLDER = """\
version: 1
project:
  name: demo
  domain: demo.example.com
  reverse_proxy: proxy
  tls: {{acme_email: ops@demo.example.com}}
services:
  proxy:
    layer: management
    phases: [mvp]
    image: traefik:v3.6.13
    ports:
      - {{name: web, port: 80, publish: 80}}
    health: {{type: command, command: [traefik, healthcheck, --ping]}}
    docker_socket: true
    public_with_docker_socket: true
  admin:
    layer: management
    phases: [mvp]
    image: portainer/portainer-ce:2.33.5
    ports:
{ports}
    health: {{type: command, command: [/portainer, --help]}}
    docker_socket: true
"""


def _validate(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["catalog", "validate", "--catalog", str(path)])
    return result.exit_code, result.output


def _line(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


# --- H1: the default catalog ---------------------------------------------------------------------


def test_default_portainer_is_on_loopback_with_no_public_route() -> None:
    document, _ = render_compose(load_catalog(DEFAULT_CATALOG))
    portainer = document["services"]["portainer"]
    assert portainer["ports"] == [{"target": 9443, "published": "9443", "protocol": "tcp", "host_ip": "127.0.0.1"}]
    assert not any(label.startswith("traefik.") for label in portainer["labels"]), portainer["labels"]
    routed = {
        label
        for svc in document["services"].values()
        for label, value in svc["labels"].items()
        if label.endswith(".rule") and "portainer" in value
    }
    assert not routed


def test_default_portainer_admin_password_is_preset_from_a_generated_secret_file() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    secret = catalog.secrets["PORTAINER_ADMIN_PASSWORD"]
    assert secret.generate is not None and secret.generate.length >= 12  # Portainer refuses shorter passwords
    document, _ = render_compose(catalog)
    portainer = document["services"]["portainer"]
    assert portainer["command"] == ["--admin-password-file", SECRET_FILE]  # a path on the command line, not the value
    assert portainer["secrets"] == [{"source": "portainer_admin_password", "target": SECRET_FILE}]
    assert document["secrets"]["portainer_admin_password"] == {"environment": "PORTAINER_ADMIN_PASSWORD"}
    assert "PORTAINER_ADMIN_PASSWORD" not in json.dumps(portainer.get("environment", {}))  # not in `docker inspect`


@pytest.mark.compose
def test_real_compose_binds_portainer_to_loopback_and_mounts_the_password_file(
    compose_binary: Path, tmp_path: Path
) -> None:
    shutil.copy(DEFAULT_CATALOG, tmp_path / "catalog.yaml")
    rendered = runner.invoke(app, ["render", "--phase", "mvp", "--catalog", str(tmp_path / "catalog.yaml")])
    assert rendered.exit_code == 0, rendered.output
    env = dict(line.split("=", 1) for line in (tmp_path / "compose" / ".env").read_text().splitlines() if "=" in line)
    password = env["PORTAINER_ADMIN_PASSWORD"].strip("'\"")
    assert len(password) >= 12
    compose_file = tmp_path / "compose" / "docker-compose.yml"
    assert password not in compose_file.read_text()
    run = subprocess.run(
        [str(compose_binary), "-f", str(compose_file), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    portainer = json.loads(run.stdout)["services"]["portainer"]
    assert [(p["host_ip"], p["published"], p["target"]) for p in portainer["ports"]] == [("127.0.0.1", "9443", 9443)]
    assert portainer["secrets"] == [{"source": "portainer_admin_password", "target": SECRET_FILE}]
    assert password not in json.dumps(portainer)  # only the file carries it


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.name)
def test_socket_holders_publish_beyond_loopback_only_when_opted_in(path: Path) -> None:
    catalog = load_catalog(path)
    document, _ = render_compose(catalog)
    for name, svc in catalog.in_phase("mvp").items():
        if not svc.docker_socket:
            continue
        for port in document["services"][name].get("ports", []):
            if not svc.public_with_docker_socket:
                assert port["host_ip"] == "127.0.0.1", (name, port)


# --- H1: validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ports", "needle", "field"),
    [
        ('      - {name: http, port: 9000, public: {hostname: "admin.{domain}"}}', "public:", "ports[0].public"),
        ("      - {name: https, port: 9443, publish: 9443, host_ip: 0.0.0.0}", "host_ip", "ports[0].host_ip"),
        ('      - {name: https, port: 9443, publish: 9443, host_ip: "::"}', "host_ip", "ports[0].host_ip"),
        ("      - {name: https, port: 9443, publish: 9443, host_ip: 192.0.2.7}", "host_ip", "ports[0].host_ip"),
    ],
    ids=["public-route", "all-ipv4", "all-ipv6", "one-address"],
)
def test_a_socket_holder_reachable_from_outside_needs_the_opt_in(
    tmp_path: Path, ports: str, needle: str, field: str
) -> None:
    text = SOCKET_HOLDER.format(ports=ports + "\n      - {name: https2, port: 9444}")
    code, output = _validate(tmp_path, text)
    assert code == 2, output
    flat = " ".join(output.split())
    assert f"catalog.yaml:{_line(text, needle)}: services.admin.{field}:" in flat, output
    assert "root on the host" in flat and "public_with_docker_socket: true" in flat
    opted = text.replace(
        "    docker_socket: true\n", "    docker_socket: true\n    public_with_docker_socket: true\n", 2
    )
    opted = opted.replace(
        "public_with_docker_socket: true\n    public_with_docker_socket: true", "public_with_docker_socket: true"
    )
    assert _validate(tmp_path, opted)[0] == 0


@pytest.mark.parametrize("address", ["127.0.0.1", '"::1"', "127.0.0.2"])
def test_a_socket_holder_may_publish_on_loopback(tmp_path: Path, address: str) -> None:
    text = SOCKET_HOLDER.format(ports=f"      - {{name: https, port: 9443, publish: 9443, host_ip: {address}}}")
    assert _validate(tmp_path, text)[0] == 0


def test_the_opt_in_without_a_socket_is_refused(tmp_path: Path) -> None:
    text = SOCKET_HOLDER.format(ports="      - {name: https, port: 9443}").replace(
        "    docker_socket: true\n    public_with_docker_socket: true\n", "    public_with_docker_socket: true\n"
    )
    code, output = _validate(tmp_path, text)
    flat = " ".join(output.split())
    assert code == 2
    assert f"catalog.yaml:{_line(text, 'public_with_docker_socket')}: services.proxy.public_with_docker_socket:" in flat
    assert "applies only to a service with `docker_socket: true`" in flat


def test_host_ip_without_publish_is_refused(tmp_path: Path) -> None:
    text = SOCKET_HOLDER.format(ports="      - {name: https, port: 9443, host_ip: 127.0.0.1}")
    code, output = _validate(tmp_path, text)
    flat = " ".join(output.split())
    assert code == 2
    assert f"catalog.yaml:{_line(text, 'host_ip')}: services.admin.ports[0]:" in flat
    assert "add `publish: PORT` or remove host_ip" in flat


# --- M10: say that the socket is root --------------------------------------------------------------


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.name)
def test_the_socket_mount_pretends_nothing_and_a_note_says_root(path: Path) -> None:
    catalog = load_catalog(path)
    document, notes = render_compose(catalog)
    holders = [name for name, svc in catalog.in_phase("mvp").items() if svc.docker_socket]
    assert holders
    for name in holders:
        mounts = [m for m in document["services"][name]["volumes"] if m["source"] == "/var/run/docker.sock"]
        assert mounts == [{"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"}]
    noted = {n.service: n.message for n in notes if n.topic == "docker_socket"}
    assert set(noted) == set(holders)
    assert all("root-equivalent on the host" in message for message in noted.values())


def test_catalog_validate_lists_the_root_equivalent_services(tmp_path: Path) -> None:
    text = runner.invoke(app, ["catalog", "validate", "--catalog", str(DEFAULT_CATALOG)])
    assert text.exit_code == 0
    assert "root on the host: proxy, portainer, kestra" in " ".join(text.output.split())
    payload = json.loads(
        runner.invoke(app, ["catalog", "validate", "--catalog", str(DEFAULT_CATALOG), "--json"]).stdout
    )
    assert payload["root_equivalent"] == ["proxy", "portainer", "kestra"]


def test_the_field_documentation_says_root_not_read_only() -> None:
    description = Service.model_fields["docker_socket"].description or ""
    assert "root on the host" in description and "Mount the Docker socket read-only" not in description
    schema = runner.invoke(app, ["catalog", "schema"])
    assert schema.exit_code == 0
    assert "grants root on the host" in schema.output and "Docker socket read-only (management" not in schema.output
    assert "read-only" not in DEFAULT_CATALOG.read_text().split("docker_socket", 1)[1].split("\n", 1)[0]
