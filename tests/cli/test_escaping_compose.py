"""Catalog text through the real Compose binary and the real probe programs: literal, never interpolated or run.

`docker-compose config` interpolates exactly as `up` does, from the environment and --env-file; the
deployer's shell here holds HOME, AWS_SECRET_ACCESS_KEY, X and id, none of which may reach the output.
The probes run as Docker runs a `CMD` healthcheck: the argv Compose hands over, no shell around it,
against a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from aipair.cli import app

from ..helpers.catalogs import minimal, write
from ..helpers.hostile import PAYLOADS, assert_payload_literal, compose_literal, hostile

DEPLOYER_ENV = {
    "HOME": "/home/LEAKED-HOME",
    "AWS_SECRET_ACCESS_KEY": "LEAKED-AWS",
    "X": "LEAKED-X",
    "id": "LEAKED-ID",
    "API_TOKEN": "token-from-the-vendor",
}


def _render(tmp_path: Path, data: dict[str, Any]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = write(tmp_path, data)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render", "--phase", "mvp", "--catalog", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "compose"


def _config(binary: Path, compose_dir: Path, name: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(binary), "-f", str(compose_dir / name), "--env-file", str(compose_dir / ".env"), "config"]
        + ["--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], **DEPLOYER_ENV},
    )
    assert result.returncode == 0, result.stderr
    assert "LEAKED" not in result.stdout and "LEAKED" not in result.stderr
    return json.loads(result.stdout)


def _secret(compose_dir: Path, name: str) -> str:
    line = next(line for line in (compose_dir / ".env").read_text().splitlines() if line.startswith(f"{name}="))
    return line.split("=", 1)[1]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_compose_reads_every_catalog_string_literally(compose_binary: Path, tmp_path: Path, payload: str) -> None:
    compose_dir = _render(tmp_path, hostile(payload))
    config = _config(compose_binary, compose_dir, "docker-compose.yml")
    services = config["services"]
    assert_payload_literal(services, payload)
    web = services["web"]
    assert compose_literal(config["configs"]["web-0"]["content"]) == f"key={payload}\n"
    # the declared secret references still resolve, from compose/.env
    password = _secret(compose_dir, "CACHE_PASSWORD")
    assert compose_literal(web["environment"]["CACHE_URL"]) == f"redis://:{password}@cache:6379/0"

    mock = _config(compose_binary, compose_dir, "docker-compose.mock.yml")["services"]["web"]
    paths = [compose_literal(part) for part in mock["command"]]
    assert f"/h{payload}" in paths and f"/s{payload}" in paths
    assert compose_literal(mock["healthcheck"]["test"][-1]) == f"http://127.0.0.1:8000/h{payload}"


# --- probes run for real ---------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[int, list[str]]]:
    recorder = type("Recorder", (_Recorder,), {"paths": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), recorder)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], recorder.paths
    finally:
        httpd.shutdown()
        httpd.server_close()


def _hostile_paths(marker: Path) -> list[str]:
    touch = f"touch${{IFS}}{marker}"
    return [
        f"/x;{touch}",
        f"/x'$({touch})'",
        f'/x"$({touch})"',
        f"/x`{touch}`",
        f"/x');__import__('os').system('{touch}');('",
        f"/x\"+require('child_process').execSync('{touch}')+\"",
        "/x%s%n%%|id&&id>out",  # (a backslash is refused by the model: it can name another host)
    ]


@pytest.mark.parametrize("probe", ["bash", "python", "node"])
def test_probes_send_the_path_and_run_nothing(
    compose_binary: Path, tmp_path: Path, server: tuple[int, list[str]], probe: str
) -> None:
    port, received = server
    marker = tmp_path / "pwned"
    for index, path in enumerate(_hostile_paths(marker)):
        data = minimal()
        web = data["services"]["web"]
        web["ports"] = [{"name": "http", "port": port}]
        web["health"] = {"type": "http", "port": port, "path": path, "probe": probe}
        compose_dir = _render(tmp_path / str(index), data)
        test = [
            compose_literal(p)
            for p in _config(compose_binary, compose_dir, "docker-compose.yml")["services"]["web"]["healthcheck"][
                "test"
            ]
        ]
        assert test[0] == "CMD"
        before = len(received)
        run = subprocess.run(test[1:], capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert run.returncode == 0, (path, run.stderr)
        assert not marker.exists(), f"{probe} probe ran code from the path {path!r}"
        assert len(received) == before + 1
        if probe == "bash":  # the raw request line: the path exactly as written
            assert received[-1] == path
