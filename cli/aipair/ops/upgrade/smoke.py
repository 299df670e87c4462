"""The smoke tests `upgrade validate` runs against a healthy candidate in its throw-away project.

Four kinds (catalog/probes.py SmokeTest): a GET and a TCP connection to the candidate's address, a
program inside its container (`command`), and a program on the host running aipair (`host`), so that
infrastructure is validated by what the platform needs from it (`aipair flows validate` against a
candidate Kestra). Every kind is bounded: the candidate is untrusted, and so is what it answers.

A host program sees the candidate only through what it is given: {address}, {port} and {url} in its
arguments, AIPAIR_CANDIDATE_* in its environment, AIPAIR_CATALOG (the platform's catalog with the
candidate's image, written into the throw-away directory, which is also its working directory) and, for
the Kestra server, KESTRA_URL/USER/PASSWORD of the throw-away project. The deployer's own KESTRA_* and
AIPAIR_* variables and every variable named like a catalog secret are removed first, so it can never
reach the platform by mistake.

The candidate's address is a container IP on a bridge network: the host reaches it only when the engine
runs on it. With a remote engine (DOCKER_HOST=ssh://…, tcp://…) a host smoke test fails, saying so,
rather than being skipped: a skipped check would let the ledger attest a candidate that never passed
what its catalog asked of it.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx

import aipair

from ...catalog import parse_catalog
from ...catalog.model import Catalog, Port
from ...catalog.probes import SmokeTest
from ...engines.files import atomic_write
from ...engines.limits import SMOKE, BoundExceeded, get_once
from ...engines.secretstore import read_env
from ...engines.shell import run_bounded
from ...errors import CatalogError
from ...render.files import dump_yaml
from ...render.kubernetes_pods import seconds
from ..outcome import Outcome
from .versions import candidate_image

if TYPE_CHECKING:
    from docker import DockerClient

HOST_TIMEOUT = "120s"  # a host program's default time (SmokeTest.timeout)
OUTPUT_CHARS = 300  # what is kept of a program's output, its end: where the error usually is
CANDIDATE_CATALOG = "candidate-catalog.yaml"
# Hosts the Docker SDK reports for an engine on this machine (its base_url: unix socket, named pipe, loopback).
LOCAL_ENGINES = frozenset({"localhost", "localnpipe", "127.0.0.1", "::1"})


def smoke_tests(
    client: DockerClient,
    container: str,
    catalog: Catalog,
    service: str,
    version: str,
    *,
    workdir: Path,
    candidates: Mapping[str, str] | None = None,
) -> list[Outcome]:
    """Every smoke test of ``service`` against its candidate ``container`` (``catalog``: the platform's;
    ``workdir``: the throw-away project's directory, with its `.env`; ``candidates``: every service run at its
    candidate image, service → image, when ``service`` is validated with its lockstep group)."""
    tests = catalog.services[service].smoke
    ports = catalog.services[service].ports
    # asked of the engine once for every test that needs it (all but `command`)
    where = address(client, container) if any(test.command is None for test in tests) else None
    environment = (
        host_environment(catalog, service, version, address=where, workdir=workdir, candidates=candidates)
        if where is not None and any(test.host is not None for test in tests)
        else {}
    )
    return [
        run_smoke(client, container, test, ports, environment=environment, workdir=workdir, where=where)
        for test in tests
    ]


def run_smoke(
    client: DockerClient,
    container: str,
    test: SmokeTest,
    ports: list[Port],
    *,
    environment: Mapping[str, str],
    workdir: Path | None = None,
    where: str | None = None,
) -> Outcome:
    """One smoke test; ``environment`` is the whole environment of a host program (host_environment) and
    ``workdir`` its working directory (default: an empty temporary one); ``where``: the container's address
    when the caller has it (else asked of the engine)."""
    if test.command is not None:
        run = client.containers.get(container).exec_run(test.command)
        raw = run.output if isinstance(run.output, bytes) else b"".join(run.output)
        output = raw.decode("utf-8", "replace")[-OUTPUT_CHARS:]
        ok = run.exit_code == 0 and (test.contains is None or test.contains in output)
        return Outcome.of(test.name, ok, f"exit {run.exit_code}: {output.strip()}")
    where = where or address(client, container)
    port = test.port or (ports[0].port if ports else 80)
    if test.host is not None:
        if workdir is None:
            with tempfile.TemporaryDirectory(prefix="aipair-smoke-") as empty:
                return _host(client, test, where, port, environment, Path(empty))
        return _host(client, test, where, port, environment, workdir)
    if test.tcp is not None:
        try:
            with socket.create_connection((where, test.tcp), timeout=5):
                return Outcome.of(test.name, True, f"tcp {test.tcp}: accepted")
        except OSError as exc:
            return Outcome.of(test.name, False, f"tcp {test.tcp}: {exc.strerror or exc}")
    try:  # the candidate is untrusted: bounded in time and bytes (engines/limits.py)
        response = get_once(f"http://{where}:{port}{test.http}", SMOKE)
    except (httpx.TransportError, BoundExceeded) as exc:
        return Outcome.of(test.name, False, f"GET {test.http}: {exc.__class__.__name__}: {exc}")
    ok = response.status_code == test.status and (test.contains is None or test.contains in response.text)
    return Outcome.of(
        test.name,
        ok,
        f"GET {test.http} → {response.status_code}"
        + ("" if test.contains is None else f", contains {test.contains!r}: {test.contains in response.text}"),
    )


def _host(
    client: DockerClient, test: SmokeTest, where: str, port: int, environment: Mapping[str, str], workdir: Path
) -> Outcome:
    assert test.host is not None
    if not engine_is_local(client):
        return Outcome.of(
            test.name,
            False,
            f"host: the engine is remote ({client.api.base_url}), so the candidate's address {where} is not "
            "reachable from this host; run `aipair upgrade validate` on the engine's machine, or make this a "
            "`command` smoke test (run inside the candidate)",
        )
    values = {"address": where, "port": str(port), "url": f"http://{where}:{port}"}
    argv = [argument.format_map(values) for argument in test.host]  # placeholders checked at load (probes.py)
    if argv[0] == "aipair":
        argv[:1] = aipair_command()
    env = {
        **environment,
        "AIPAIR_CANDIDATE_URL": values["url"],
        "AIPAIR_CANDIDATE_ADDRESS": where,
        "AIPAIR_CANDIDATE_PORT": values["port"],
    }
    limit = seconds(test.timeout or HOST_TIMEOUT)
    shown = " ".join(test.host)[:120]
    try:
        finished = run_bounded(argv, env=env, cwd=workdir, timeout=limit, keep=OUTPUT_CHARS)
    except OSError as exc:
        return Outcome.of(test.name, False, f"host {shown}: cannot run {test.host[0]!r}: {exc.strerror or exc}")
    output = finished.output.strip()
    if finished.returncode is None:
        return Outcome.of(test.name, False, f"host {shown}: killed after {limit}s (timeout): {output}")
    ok = finished.returncode == 0 and (test.contains is None or test.contains in finished.output)
    contains = "" if test.contains is None else f", contains {test.contains!r}: {test.contains in finished.output}"
    return Outcome.of(test.name, ok, f"host {shown}: exit {finished.returncode}{contains}: {output}")


def address(client: DockerClient, container: str) -> str:
    """The container's IP address on its (first) network."""
    networks = client.containers.get(container).attrs["NetworkSettings"]["Networks"]
    return str(next(n["IPAddress"] for n in networks.values() if n.get("IPAddress")))


def engine_is_local(client: DockerClient) -> bool:
    """Does the engine run on this machine (so its bridge networks' addresses are reachable from here)?"""
    return urlparse(str(client.api.base_url)).hostname in LOCAL_ENGINES


def aipair_command() -> list[str]:
    """This very aipair: its interpreter and package, whether installed in a venv, run from a checkout
    (PYTHONPATH, which host_environment extends) or frozen into one executable."""
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "aipair"]


def host_environment(
    catalog: Catalog,
    service: str,
    version: str,
    *,
    address: str,
    workdir: Path,
    candidates: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a host program: the deployer's, without its KESTRA_* and AIPAIR_* variables or
    any named like a catalog secret, plus the throw-away project's values (never the platform's).
    ``candidates`` (service → image): every service at its candidate image in AIPAIR_CATALOG, the whole lockstep
    group; default ``service`` alone at ``version``."""
    hidden = set(catalog.secrets)
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("KESTRA_", "AIPAIR_")) and name not in hidden
    }
    package_root = str(Path(aipair.__file__).resolve().parent.parent)  # so `python -m aipair` is this one
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environment.get("PYTHONPATH")]))
    images = candidates or {service: candidate_image(catalog.services[service].image, version)}
    written = candidate_catalog(catalog, images, workdir)
    if written is not None:
        environment["AIPAIR_CATALOG"] = str(written)
    settings = catalog.project.kestra
    if settings is not None and settings.server.service == service:
        ports = catalog.services[service].ports
        environment["KESTRA_URL"] = f"http://{address}:{ports[0].port if ports else 8080}"
        if settings.server.username:
            environment["KESTRA_USER"] = settings.server.username
        secret = settings.server.password_secret
        password = read_env(workdir / ".env").get(secret) if secret else None
        if password is not None:
            environment["KESTRA_PASSWORD"] = password
    return environment


def candidate_catalog(catalog: Catalog, candidates: Mapping[str, str], workdir: Path) -> Path | None:
    """The platform's catalog with every service of ``candidates`` (service → image: the service, or every
    member of its lockstep group) at its candidate image, as a file in ``workdir`` (what `aipair flows validate`
    renders the candidate's flows from); None when it does not read back as the same catalog, rather than hand
    a program something else than what is validated."""
    services: dict[str, Any] = dict(catalog.services)
    for name, image in candidates.items():
        services[name] = services[name].model_copy(update={"image": image})
    candidate = catalog.model_copy(update={"services": services})
    text = dump_yaml(candidate.model_dump(mode="json", exclude_unset=True, by_alias=True))
    try:
        if parse_catalog(text, source=CANDIDATE_CATALOG) != candidate:
            return None
    except CatalogError:
        return None
    path = workdir / CANDIDATE_CATALOG
    atomic_write(path, text, mode=0o600)
    return path
