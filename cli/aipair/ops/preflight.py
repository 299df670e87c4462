"""Before `compose up`: is the engine there, is Compose v2, are the host ports free, is there disk, are
the images present (pulled or made now). Each check says what it found."""

from __future__ import annotations

import errno
import shutil
import socket
from typing import TYPE_CHECKING

from ..catalog.images import ImageRef
from ..engines import docker as engine
from ..engines.compose import ComposeProject, compose_version
from ..render.compose import ComposeDocument
from .callbacks import Progress
from .outcome import Outcome

if TYPE_CHECKING:
    from docker import DockerClient

MIN_FREE_BYTES = 1 << 30


def preflight(
    client: DockerClient, project: ComposeProject, document: ComposeDocument, report: Progress
) -> list[Outcome]:
    """Engine, Compose, host ports, disk, images: each check says what it found."""
    from ..engines.mockimage import MockImageError, ensure_mock_image
    from ..render.mock import MOCK_IMAGE

    version = client.version()
    checks = [
        Outcome.of(
            "engine",
            True,
            f"Docker {version.get('Version')} (API {version.get('ApiVersion')}) at {engine.where(project.host)}",
        )
    ]
    compose = compose_version()
    checks.append(
        Outcome.of(
            "compose",
            compose.split(".")[0].lstrip("v").isdigit() and int(compose.split(".")[0].lstrip("v")) >= 2,
            f"Docker Compose {compose}",
        )
    )
    checks.append(_ports_check(client, project, document))
    checks.append(_disk_check(client, project))
    images = sorted({svc["image"] for svc in document["services"].values()})
    if MOCK_IMAGE in images:
        report("making the mock image")
        try:
            _, built = ensure_mock_image(client)
            checks.append(Outcome.of("mock image", True, f"{MOCK_IMAGE} {'made now' if built else 'present'}"))
        except MockImageError as exc:
            checks.append(Outcome.of("mock image", False, str(exc)))
    checks.append(_pull_images(client, [i for i in images if i != MOCK_IMAGE], report))
    return checks


def _ports_check(client: DockerClient, project: ComposeProject, document: ComposeDocument) -> Outcome:
    wanted = sorted(
        {
            (int(p["published"]), p.get("protocol", "tcp"))
            for svc in document["services"].values()
            for p in svc.get("ports", [])
        }
    )
    ours: set[tuple[int, str]] = set()
    conflicts = []
    for summary in engine.list_containers(client):
        labels = summary.get("Labels") or {}
        for binding in summary.get("Ports") or []:
            if not binding.get("PublicPort") or summary.get("State") != "running":
                continue
            key = (int(binding["PublicPort"]), binding["Type"])
            if labels.get("com.docker.compose.project") == project.name:
                ours.add(key)
            elif key in wanted:
                conflicts.append(f"{key[0]}/{key[1]} is published by container {summary['Names'][0].lstrip('/')}")
    if not project.host or project.host.startswith("unix://"):
        for port, protocol in wanted:
            if (port, protocol) in ours or any(c.startswith(f"{port}/") for c in conflicts):
                continue
            kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
            with socket.socket(socket.AF_INET, kind) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("0.0.0.0", port))
                except OSError as exc:
                    reason = "in use by another process" if exc.errno == errno.EADDRINUSE else exc.strerror
                    conflicts.append(f"{port}/{protocol} is {reason}")
    conflicts = list(dict.fromkeys(conflicts))  # IPv4 and IPv6 bindings of one container
    listed = ", ".join(f"{p}/{proto}" for p, proto in wanted) or "none"
    return Outcome.of("host ports", not conflicts, "; ".join(conflicts) if conflicts else f"free: {listed}")


def _disk_check(client: DockerClient, project: ComposeProject) -> Outcome:
    root = client.info().get("DockerRootDir", "/var/lib/docker")
    if project.host and not project.host.startswith("unix://"):
        return Outcome.of("disk", True, f"{root} on the remote host (not measured from here)")
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        return Outcome.of("disk", True, f"{root} is not visible from here (not measured)")
    return Outcome.of("disk", free >= MIN_FREE_BYTES, f"{free / 2**30:.1f} GiB free in {root} (need 1 GiB)")


def _pull_images(client: DockerClient, images: list[str], report: Progress) -> Outcome:
    from docker.errors import DockerException, ImageNotFound

    def pullable(image: str) -> str:
        return ImageRef.parse(image).pullable

    missing = []
    for image in images:
        try:
            client.images.get(pullable(image))
        except ImageNotFound:
            missing.append(image)
    failures = []
    for index, image in enumerate(missing, start=1):
        report(f"pulling {image} ({index}/{len(missing)})")
        try:
            client.images.pull(pullable(image))
        except DockerException as exc:
            failures.append(f"{image}: {str(exc).splitlines()[0][:160]}")
    present = len(images) - len(missing)
    if failures:
        return Outcome.of("images", False, "cannot pull " + "; ".join(failures))
    return Outcome.of("images", True, f"{present} present, {len(missing)} pulled")
