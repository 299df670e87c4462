"""A real OCI registry for the tests (Debian's docker-registry, distribution 2.8) and tiny images to push."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_registry(base: Path, auth: dict[str, Any] | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).exists():
        pytest.fail("the OCI registry is missing: apt-get install -y docker-registry apache2-utils")
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error"},
        "http": {"addr": f"127.0.0.1:{port}"},
        "storage": {"filesystem": {"rootdirectory": str(base / "data")}, "delete": {"enabled": True}},
    }
    if auth:
        config["auth"] = auth
    (base / "config.yml").write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [binary, "serve", str(base / "config.yml")], stdout=subprocess.DEVNULL, stderr=open(base / "registry.log", "wb")
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code in (200, 401):
                return f"127.0.0.1:{port}", process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"docker-registry did not start: {(base / 'registry.log').read_text()[-1000:]}")
        time.sleep(0.1)


@contextmanager
def running_registry(base: Path, auth: dict[str, Any] | None = None) -> Iterator[str]:
    """start_registry for a ``with`` block: its address, and the registry stopped at the end."""
    address, process = start_registry(base, auth)
    try:
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)


def push(
    registry: str, repository: str, tags: list[str], auth: tuple[str, str] | None = None, *, architecture: str = "amd64"
) -> dict[str, str]:
    """Push a tiny OCI image under each tag (each with its own config, so each has its own digest), for linux/
    ``architecture`` only."""
    digests = {}
    with httpx.Client(base_url=f"http://{registry}", auth=auth, timeout=10) as client:

        def blob(data: bytes) -> dict[str, Any]:
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            start = client.post(f"/v2/{repository}/blobs/uploads/")
            start.raise_for_status()
            location = start.headers["location"]  # carries its own _state query: append, do not replace
            client.put(
                f"{location}{'&' if '?' in location else '?'}digest={digest}",
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            ).raise_for_status()
            return {"digest": digest, "size": len(data)}

        layer = blob(b"aipair test layer")
        for tag in tags:
            config = blob(
                json.dumps(
                    {
                        "architecture": architecture,
                        "os": "linux",
                        "config": {"Labels": {"tag": tag}},
                        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
                    }
                ).encode()
            )
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
                }
            ).encode()
            client.put(
                f"/v2/{repository}/manifests/{tag}",
                content=manifest,
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            ).raise_for_status()
            digests[tag] = "sha256:" + hashlib.sha256(manifest).hexdigest()
    return digests


def manifest_digest(registry: str, repository: str, tag: str) -> str:
    """The digest the registry at ``registry`` serves for ``repository:tag`` (a pushed Docker v2 image)."""
    return httpx.head(
        f"http://{registry}/v2/{repository}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    ).headers["docker-content-digest"]
