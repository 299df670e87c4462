"""Fixtures for real engines: a Docker engine, and OCI registries with images pushed to them.

Engines the tests need are real and must be present: missing ones fail, never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import docker
import pytest

from ..helpers.kestra_engine import TEST_MODULE, KestraRuns
from ..helpers.kube import ControlPlane, build_control_plane, start_control_plane
from ..helpers.kube_node import Node, start_node
from ..helpers.postgres import Server, postgres_server
from ..helpers.registry import push, running_registry
from ..helpers.shell_images import SERVE, push_shell_images

TAGS = ["1.0.0", "1.0.1", "1.1.0", "1.1.0-alpine", "1.0.0-alpine", "2.0.0", "2.1.0-rc1", "latest", "1.1"]


def _engine_answers(host: str) -> bool:
    try:
        docker.DockerClient(base_url=host, timeout=5).ping()
        return True
    except Exception:
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
        pytest.fail(
            "a Docker engine is needed: set DOCKER_HOST, or run as root with docker.io installed "
            "(apt-get install -y docker.io iptables busybox-static)"
        )
    # A short path: unix socket paths are limited to 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="aipair-dockerd-", dir="/tmp"))
    socket_path = base / "docker.sock"
    host = f"unix://{socket_path}"
    log = open(base / "dockerd.log", "w")
    process = subprocess.Popen(
        [
            dockerd,
            "--data-root",
            str(base / "data"),
            "--exec-root",
            str(base / "exec"),
            "--pidfile",
            str(base / "dockerd.pid"),
            "-H",
            host,
        ],
        stdout=log,
        stderr=log,
    )
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


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A registry on 127.0.0.1 holding aipair/app under TAGS, aipair/gui 1.0.0 / 1.1.0 and aipair/api up to 1.2.0;
    yields its address and the digest of each aipair/app tag."""
    with running_registry(tmp_path_factory.mktemp("registry")) as address:
        digests = push(address, "aipair/app", TAGS)
        push(address, "aipair/gui", ["1.0.0", "1.1.0"])
        push(address, "aipair/api", ["1.0.0", "1.1.0", "1.2.0"])
        yield address, digests


@contextmanager
def validate_images(docker_host: str, base: Path) -> Iterator[str]:
    """A registry on 127.0.0.1 holding web 1.0.0 / 1.1.0 (good) / 1.2.0 (never healthy) and cache 1.0.0."""
    client = docker.DockerClient(base_url=docker_host, timeout=120)
    with running_registry(base) as address:
        push_shell_images(
            client,
            f"{address}/aipair/web",
            {
                "1.0.0": SERVE.format(text="ok v1.0.0"),
                "1.1.0": SERVE.format(text="ok v1.1.0"),
                "1.2.0": "echo 'web 1.2.0: refusing to start, schema migration missing' >&2; exec tail -f /dev/null",
            },
        )
        push_shell_images(client, f"{address}/aipair/cache", {"1.0.0": SERVE.format(text="ok cache")})
        for candidate in ("web:1.1.0", "web:1.2.0"):  # the throw-away project must pull them from the registry
            client.images.remove(f"{address}/aipair/{candidate}", force=True)
        yield address


@pytest.fixture(scope="module")
def images(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The registry of validate_images, for one module."""
    with validate_images(docker_host, tmp_path_factory.mktemp("validate-registry")) as address:
        yield address


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The Kestra engine module last: it waits there for the Maven runs the `kestra_engine` fixture started
    before the first engine test, so they overlap with everything between."""
    kestra = [item for item in items if item.path.name == TEST_MODULE and item.path.parent == Path(__file__).parent]
    if kestra:
        items[:] = [item for item in items if item not in kestra] + kestra


@pytest.fixture(scope="session", autouse=True)
def kestra_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KestraRuns]:
    """When tests/engine/test_kestra_engine.py is selected: its Maven runs (tests/helpers/kestra_engine.py),
    started here, in the background, before the first engine test. Under xdist the module starts them itself."""
    runs = KestraRuns(tmp_path_factory.mktemp("kestra-engine"))
    selected = any(item.path.name == TEST_MODULE for item in request.session.items)
    with ExitStack() as stack:
        if selected and "PYTEST_XDIST_WORKER" not in os.environ:
            try:
                docker_host = request.getfixturevalue("docker_host")
                address = stack.enter_context(validate_images(docker_host, tmp_path_factory.mktemp("kestra-registry")))
            except (Exception, pytest.fail.Exception):
                runs.failure = traceback.format_exc()
            else:
                runs.start(address, docker_host)
        stack.callback(runs.close)
        yield runs


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """A real PostgreSQL 15 (Debian's), on loopback, for the SQL aipair renders."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def kube() -> Iterator[ControlPlane]:
    """A real Kubernetes control plane (etcd, kube-apiserver, controller manager, scheduler; no kubelet), built
    from the Go module proxy by scripts/build-kube.sh and cached. A failed build or start fails the tests."""
    try:
        plane = start_control_plane(build_control_plane())
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the test control plane did not start: {exc}")
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kube_node(kube: ControlPlane) -> Iterator[Node]:
    """A real node for ``kube``: containerd and CNI plugins from Debian, a kubelet built with the control plane.
    Tainted: only pods that tolerate it (tests/helpers/kube_node.py TOLERATION) run on it."""
    try:
        node = start_node(kube)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the test node did not start: {exc}")
    try:
        yield node
    finally:
        node.stop()
