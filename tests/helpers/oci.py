"""A small OCI image builder for the tests: layers from a spec of files, directories, links and whiteouts,
compressed with gzip, zstd or not at all, a config, and an index over several platforms; pushed to the
real registry through the distribution API (as tests/helpers/registry.py `push` does)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from typing import Any

import httpx
import zstandard

MEDIA = {
    "tar": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


@dataclass(frozen=True)
class Entry:
    """One tar member: kind "file", "dir", "symlink", "hardlink", "whiteout" (of ``path``) or "opaque" (``path``
    is the directory)."""

    path: str
    kind: str = "file"
    data: bytes = b""
    target: str = ""
    uid: int = 0
    gid: int = 0
    mode: int = 0o755


def file(path: str, data: bytes = b"#!/bin/sh\n", *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(path, "file", data, uid=uid, gid=gid, mode=mode)


def folder(path: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(path, "dir", uid=uid, gid=gid, mode=mode)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, "symlink", target=target, mode=0o777)


def hardlink(path: str, target: str) -> Entry:
    return Entry(path, "hardlink", target=target)


def whiteout(path: str) -> Entry:
    return Entry(path, "whiteout")


def opaque(directory: str) -> Entry:
    return Entry(directory, "opaque")


def tar_bytes(entries: list[Entry], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A tar stream of ``entries`` (member names relative, as image layers write them)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
        for entry in entries:
            name = entry.path.lstrip("/")
            if entry.kind == "whiteout":
                head, _, base = name.rpartition("/")
                name = f"{head}/.wh.{base}" if head else f".wh.{base}"
            elif entry.kind == "opaque":
                name = f"{name.rstrip('/')}/.wh..wh..opq"
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mode, info.mtime = entry.uid, entry.gid, entry.mode, 0
            data = b""
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
            elif entry.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, entry.target
            elif entry.kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, entry.target.lstrip("/")
            else:
                data = entry.data if entry.kind == "file" else b""
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


@dataclass
class Image:
    """An image: its layers (each a list of entries) and its config."""

    layers: list[list[Entry]]
    compression: str = "gzip"
    user: str = ""
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    working_dir: str = ""
    ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=lambda: {"PATH": "/usr/local/bin:/usr/bin:/bin"})
    healthcheck: dict[str, Any] | None = None
    platform: str = "linux/amd64"
    raw_layers: list[tuple[str, bytes]] = field(default_factory=list)  # (media type, bytes) pushed as they are

    def layer_blobs(self) -> list[tuple[str, bytes]]:
        built = [(MEDIA[self.compression], compress(tar_bytes(layer), self.compression)) for layer in self.layers]
        return built + self.raw_layers

    def config(self, layers: list[tuple[str, bytes]]) -> dict[str, Any]:
        os_, arch, *variant = self.platform.split("/")
        settings: dict[str, Any] = {"Env": [f"{k}={v}" for k, v in self.env.items()]}
        if self.user:
            settings["User"] = self.user
        if self.entrypoint is not None:
            settings["Entrypoint"] = self.entrypoint
        if self.cmd is not None:
            settings["Cmd"] = self.cmd
        if self.working_dir:
            settings["WorkingDir"] = self.working_dir
        if self.ports:
            settings["ExposedPorts"] = {port: {} for port in self.ports}
        if self.volumes:
            settings["Volumes"] = {volume: {} for volume in self.volumes}
        if self.healthcheck:
            settings["Healthcheck"] = self.healthcheck
        document: dict[str, Any] = {
            "architecture": arch,
            "os": os_,
            "config": settings,
            "rootfs": {"type": "layers", "diff_ids": [digest_of(data) for _, data in layers]},
        }
        if variant:
            document["variant"] = variant[0]
        return document


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Pusher:
    """Pushes blobs, manifests and indexes to a registry through its HTTP API; counts nothing, trusts all."""

    def __init__(self, registry: str, auth: tuple[str, str] | None = None) -> None:
        self.client = httpx.Client(base_url=f"http://{registry}", auth=auth, timeout=60)

    def __enter__(self) -> Pusher:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def blob(self, repository: str, data: bytes, media_type: str) -> dict[str, Any]:
        digest = digest_of(data)
        if self.client.head(f"/v2/{repository}/blobs/{digest}").status_code != 200:
            start = self.client.post(f"/v2/{repository}/blobs/uploads/")
            start.raise_for_status()
            location = start.headers["location"]
            self.client.put(
                f"{location}{'&' if '?' in location else '?'}digest={digest}",
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            ).raise_for_status()
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def manifest(self, repository: str, reference: str, document: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(document).encode()
        self.client.put(
            f"/v2/{repository}/manifests/{reference}", content=data, headers={"Content-Type": document["mediaType"]}
        ).raise_for_status()
        return {"mediaType": document["mediaType"], "digest": digest_of(data), "size": len(data)}

    def image(self, repository: str, tag: str, image: Image) -> dict[str, Any]:
        """Push ``image``; its manifest's descriptor (digest, size)."""
        layers = image.layer_blobs()
        config = json.dumps(image.config(layers)).encode()
        document = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": self.blob(repository, config, "application/vnd.oci.image.config.v1+json"),
            "layers": [self.blob(repository, data, media) for media, data in layers],
        }
        return self.manifest(repository, tag, document)

    def index(self, repository: str, tag: str, images: list[Image], *, attestation: bool = False) -> dict[str, Any]:
        """An OCI index over ``images`` (each under its own platform), plus an attestation-like entry if asked."""
        entries = []
        for number, image in enumerate(images):
            descriptor = self.image(repository, f"{tag}-p{number}", image)
            os_, arch, *variant = image.platform.split("/")
            platform = {"os": os_, "architecture": arch, **({"variant": variant[0]} if variant else {})}
            entries.append({**descriptor, "platform": platform})
        if attestation:
            entries.append({**entries[0], "platform": {"os": "unknown", "architecture": "unknown"}})
        document = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
        return self.manifest(repository, tag, document)
