"""Inspecting images from a real OCI registry (Debian's docker-registry) without an engine.

The images are built here (tests/helpers/oci.py) and pushed through the registry API: busybox (the real
static binary) with and without wget, a FROM-scratch binary, a non-root user, indexes with and without
linux/amd64, whiteouts, zstd layers; then auth (basic and bearer), the disk cache and the bounds.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aipair.engines.image_cache import ImageCache
from aipair.engines.image_facts import ImageFacts
from aipair.engines.image_inspect import inspect_image, inspect_images
from aipair.engines.limits import IMAGE
from aipair.engines.registry import RegistryClient, RegistryError

from ..helpers.oci import Image, Pusher, file, folder, opaque, symlink, tar_bytes, whiteout
from ..helpers.registry import running_registry
from ..helpers.registry_tokens import token_registry

BUSYBOX = Path("/bin/busybox").read_bytes()
HEALTH = {
    "Test": ["CMD", "wget", "-q", "-O-", "http://localhost:8080/"],
    "Interval": 30 * 10**9,
    "Timeout": 5 * 10**9,
    "Retries": 3,
}


def busybox(*, wget: bool = True, compression: str = "gzip", platform: str = "linux/amd64") -> Image:
    base = [folder("bin"), file("bin/busybox", BUSYBOX), symlink("bin/sh", "busybox"), folder("usr/bin")]
    applets = [symlink("usr/bin/wget", "/bin/busybox")] if wget else []
    return Image(layers=[base, applets], compression=compression, platform=platform, cmd=["sh"])


IMAGES = {
    "busybox:wget": busybox(),
    "busybox:nowget": busybox(wget=False),
    "busybox:zstd": busybox(compression="zstd"),
    "scratch:1": Image(
        layers=[[file("app", b"\x7fELF static")]], env={}, entrypoint=["/app"], ports=["8080/tcp"], compression="tar"
    ),
    "nonroot:1": Image(
        layers=[busybox().layers[0], [folder("data", uid=1000, gid=1000, mode=0o750), folder("home/app", uid=1000)]],
        user="1000:1000",
        working_dir="/home/app",
        volumes=["/data"],
        ports=["8080/tcp", "9090/tcp"],
        env={"PATH": "/usr/bin:/bin", "API_TOKEN": "s3cret-value", "LANG": "C"},
        healthcheck=HEALTH,
        entrypoint=["/bin/sh", "-c"],
        cmd=["exec httpd"],
    ),
    "whiteout:1": Image(
        layers=[
            [*busybox().layers[0], *busybox().layers[1], folder("etc/app"), file("etc/app/old.conf"), file("etc/motd")],
            [whiteout("usr/bin/wget"), whiteout("etc/motd"), file("etc/app/new.conf"), opaque("etc/app")],
        ]
    ),
}


@pytest.fixture(scope="module")
def oci(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A registry with IMAGES and two indexes pushed; yields its address, its storage and the digests."""
    base = tmp_path_factory.mktemp("oci-registry")
    digests: dict[str, str] = {}
    with running_registry(base) as address:
        with Pusher(address) as pusher:
            for name, image in IMAGES.items():
                repository, tag = name.split(":")
                digests[name] = pusher.image(f"test/{repository}", tag, image)["digest"]
            digests["multi:1"] = pusher.index(
                "test/multi", "1", [busybox(platform="linux/arm64/v8"), busybox()], attestation=True
            )["digest"]
            digests["armonly:1"] = pusher.index(
                "test/armonly", "1", [busybox(platform="linux/arm64/v8"), busybox(platform="linux/s390x")]
            )["digest"]
        yield address, base / "data", digests


def inspect(address: str, name: str, **options: object) -> ImageFacts:
    async def run() -> ImageFacts:
        async with RegistryClient() as client:
            return await inspect_image(client, f"{address}/test/{name}", **options)  # type: ignore[arg-type]

    return asyncio.run(run())


def test_busybox_with_and_without_wget(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, digests = oci
    with_wget = inspect(address, "busybox:wget")
    assert with_wget.digest == digests["busybox:wget"] and with_wget.index_digest is None
    assert (with_wget.platforms, with_wget.has_platform, with_wget.layers) == (["linux/amd64"], True, 2)
    wget = with_wget.program("wget")
    assert wget is not None and (wget.path, wget.target) == ("/usr/bin/wget", "/bin/busybox")
    sh = with_wget.program("sh")
    assert sh is not None and (sh.path, sh.target) == ("/bin/sh", "/bin/busybox")
    assert [p.name for p in with_wget.programs if p.path is None] == ["curl", "bash", "nc", "node", "python", "python3"]
    assert with_wget.size > len(BUSYBOX) // 3 and with_wget.runs_as_root and with_wget.cmd == ["sh"]
    without = inspect(address, "busybox:nowget")
    assert without.program("wget") is not None and without.program("wget").path is None  # type: ignore[union-attr]
    assert without.program("sh").path == "/bin/sh"  # type: ignore[union-attr]


def test_zstd_layers_read_as_gzip_ones(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, _ = oci
    facts = inspect(address, "busybox:zstd")
    assert facts.program("wget").target == "/bin/busybox"  # type: ignore[union-attr]


def test_scratch_single_binary_has_no_shell_and_the_default_path(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, _ = oci
    facts = inspect(address, "scratch:1", programs=["sh", "wget", "/app"])
    assert [(p.name, p.path) for p in facts.programs] == [("sh", None), ("wget", None), ("/app", "/app")]
    assert facts.entrypoint == ["/app"] and facts.exposed_ports == ["8080/tcp"] and facts.env_keys == []
    assert facts.path == ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]


def test_non_root_user_config_and_paths(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, _ = oci
    facts = inspect(address, "nonroot:1", paths=["/data", "/var/lib/app"])
    assert facts.user == "1000:1000" and not facts.runs_as_root
    assert facts.working_dir == "/home/app" and facts.volumes == ["/data"]
    assert facts.exposed_ports == ["8080/tcp", "9090/tcp"]
    assert facts.env_keys == ["API_TOKEN", "LANG", "PATH"] and "s3cret" not in facts.model_dump_json()
    assert facts.entrypoint == ["/bin/sh", "-c"] and facts.cmd == ["exec httpd"]
    assert facts.healthcheck is not None and facts.healthcheck.test == HEALTH["Test"]
    assert (facts.healthcheck.interval_seconds, facts.healthcheck.timeout_seconds, facts.healthcheck.retries) == (
        30.0,
        5.0,
        3,
    )
    data = facts.path_info("/data")
    assert data is not None and (data.exists, data.kind, data.uid, data.gid, data.mode) == (
        True,
        "dir",
        1000,
        1000,
        0o750,
    )
    assert [(p.path, p.exists) for p in facts.paths] == [
        ("/", True),
        ("/data", True),
        ("/var", False),
        ("/var/lib", False),
        ("/var/lib/app", False),
    ]


def test_index_with_and_without_linux_amd64(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, digests = oci
    multi = inspect(address, "multi:1")
    assert multi.index_digest == digests["multi:1"] and multi.digest != digests["multi:1"]
    assert multi.platforms == ["linux/arm64/v8", "linux/amd64"] and multi.has_platform  # attestation not listed
    assert multi.program("wget").path == "/usr/bin/wget"  # type: ignore[union-attr]
    pinned = inspect(address, f"multi@{digests['multi:1']}")
    assert pinned.digest == multi.digest
    arm = inspect(address, "armonly:1")
    assert (arm.has_platform, arm.platforms, arm.programs, arm.layers) == (
        False,
        ["linux/arm64/v8", "linux/s390x"],
        [],
        0,
    )


def test_whiteout_and_opaque_directory(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, _ = oci
    facts = inspect(address, "whiteout:1", paths=["/etc/motd", "/etc/app/old.conf", "/etc/app/new.conf"])
    assert facts.program("wget").path is None and facts.program("sh").path == "/bin/sh"  # type: ignore[union-attr]
    exists = {p.path: p.exists for p in facts.paths}
    assert exists == {
        "/": True,
        "/etc": True,
        "/etc/motd": False,
        "/etc/app": True,
        "/etc/app/old.conf": False,
        "/etc/app/new.conf": True,
    }


def test_second_inspect_reads_no_blob_from_the_cache(oci: tuple[str, Path, dict[str, str]], tmp_path: Path) -> None:
    address, _, digests = oci
    cache = ImageCache(tmp_path / "cache")

    async def run(name: str) -> tuple[ImageFacts, int]:
        async with RegistryClient() as client:
            facts = await inspect_image(client, f"{address}/test/{name}", paths=["/data"], cache=cache)
            return facts, client.requests

    cold, cold_requests = asyncio.run(run("multi:1"))
    assert cold_requests >= 5  # HEAD, index, manifest, config, two layers
    warm, warm_requests = asyncio.run(run("multi:1"))
    assert warm_requests == 1  # the HEAD that resolves the tag, no manifest and no blob
    assert warm == cold
    by_digest, digest_requests = asyncio.run(run(f"multi@{digests['multi:1']}"))
    assert digest_requests == 0 and by_digest.digest == cold.digest and by_digest.reference.endswith(digests["multi:1"])
    asked_more, _ = asyncio.run(run("busybox:wget"))  # another image: a miss
    assert asked_more.digest == digests["busybox:wget"]
    files = sorted((tmp_path / "cache").iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    (files[0]).write_text("{not json")  # a damaged entry is a miss, not an error
    assert asyncio.run(run("multi:1"))[0] == cold


def test_inspect_images_runs_them_together_and_isolates_failures(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, _ = oci
    results = inspect_images(
        [
            (f"{address}/test/busybox:wget", ["busybox"], []),
            (f"{address}/test/missing:1", [], []),
            ("Not An Image!", [], []),
            (f"{address}/test/scratch:1", [], ["/app"]),
        ]
    )
    assert isinstance(results[0], ImageFacts) and results[0].program("busybox").path == "/bin/busybox"  # type: ignore[union-attr]
    assert isinstance(results[1], RegistryError) and "no such repository or tag" in str(results[1])
    assert "is not a valid image reference" in str(results[2])
    assert isinstance(results[3], ImageFacts) and results[3].path_info("/app").kind == "file"  # type: ignore[union-attr]


# --- bounds ---------------------------------------------------------------------------------------------


def test_a_layer_far_over_the_bound_is_not_read(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, _ = oci
    with Pusher(address) as pusher:
        pusher.image("test/big", "1", Image(layers=[[file("blob", os.urandom(3 * 2**20))]], compression="tar"))
    limits = dataclasses.replace(IMAGE, max_layer_bytes=2**20)

    async def run() -> int:
        async with RegistryClient() as client:
            with pytest.raises(RegistryError) as caught:
                await inspect_image(client, f"{address}/test/big:1", limits=limits)
            assert "layer 1 (sha256:" in str(caught.value)
            assert "is 3 MiB, over the 1 MiB bound on one layer (IMAGE.max_layer_bytes" in str(caught.value)
            return client.requests

    assert asyncio.run(run()) == 1  # the manifest alone: the sizes it declares are checked before any blob

    small_image = dataclasses.replace(IMAGE, max_image_bytes=2**20)
    with pytest.raises(RegistryError, match=r"over the 1 MiB bound on one image \(IMAGE.max_image_bytes"):
        inspect(address, "big:1", limits=small_image)


def test_a_blob_whose_bytes_do_not_match_its_digest_is_refused(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, storage, _ = oci
    image = Image(layers=[[file("bin/tool", b"genuine bytes " * 100)]], compression="tar")
    with Pusher(address) as pusher:
        descriptor = pusher.image("test/tampered", "1", image)
        manifest = pusher.client.get(
            f"/v2/test/tampered/manifests/{descriptor['digest']}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        ).json()
    layer = manifest["layers"][0]["digest"].split(":")[1]
    data = storage / "docker/registry/v2/blobs/sha256" / layer[:2] / layer / "data"
    original = data.read_bytes()
    data.write_bytes(original.replace(b"genuine", b"forged!"))  # same length: only the digest can tell
    with pytest.raises(RegistryError) as caught:
        inspect(address, "tampered:1")
    assert f"the layer blob sha256:{layer} does not match its digest" in str(caught.value)
    assert "refused" in str(caught.value)


def test_a_tar_with_too_many_entries_is_stopped(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, _ = oci
    with Pusher(address) as pusher:
        pusher.image("test/many", "1", Image(layers=[[file(f"f/{n}", b"") for n in range(300)]]))
    limits = dataclasses.replace(IMAGE, max_entries=100)
    with pytest.raises(RegistryError, match=r"test/many:1: layer 1 .*more than 100 tar entries .*IMAGE.max_entries"):
        inspect(address, "many:1", limits=limits)


def test_the_deadline_per_image_stops_a_slow_read(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, _ = oci
    limits = dataclasses.replace(IMAGE, deadline=0.001)
    with pytest.raises(RegistryError, match=r"longer than the 0 s deadline \(IMAGE.deadline"):
        inspect(address, "busybox:wget", limits=limits)


def test_a_registry_layer_with_an_unknown_media_type_is_named(oci: tuple[str, Path, dict[str, str]]) -> None:
    address, _, _ = oci
    image = Image(layers=[], raw_layers=[("application/vnd.example.squashfs", tar_bytes([file("x")]))])
    with Pusher(address) as pusher:
        pusher.image("test/odd", "1", image)
    with pytest.raises(RegistryError, match=r"layer 1 .*unknown layer media type 'application/vnd\.example\.squashfs'"):
        inspect(address, "odd:1")


# --- credentials ----------------------------------------------------------------------------------------


def _docker_config(path: Path, address: str, credentials: bytes) -> Path:
    path.write_text(json.dumps({"auths": {address: {"auth": base64.b64encode(credentials).decode()}}}))
    return path


def test_basic_auth_from_docker_config(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    base = tmp_path_factory.mktemp("private-oci")
    htpasswd = subprocess.run(["htpasswd", "-Bbn", "ci", "s3cret"], capture_output=True, text=True, check=True)
    (base / "htpasswd").write_text(htpasswd.stdout)
    with running_registry(base, {"htpasswd": {"realm": "aipair-test", "path": str(base / "htpasswd")}}) as address:
        with Pusher(address, auth=("ci", "s3cret")) as pusher:
            pusher.image("private/busybox", "1", busybox())
        image = [(f"{address}/private/busybox:1", [], [])]
        good = inspect_images(image, docker_config=_docker_config(tmp_path / "good.json", address, b"ci:s3cret"))
        assert isinstance(good[0], ImageFacts) and good[0].program("wget").path == "/usr/bin/wget"  # type: ignore[union-attr]
        wrong = inspect_images(image, docker_config=_docker_config(tmp_path / "bad.json", address, b"ci:nope"))
        assert "refused the credentials" in str(wrong[0])
        (tmp_path / "none.json").write_text("{}")
        assert f"run `docker login {address}`" in str(inspect_images(image, docker_config=tmp_path / "none.json")[0])


def test_bearer_token_of_a_real_registry(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    base = tmp_path_factory.mktemp("token-oci")
    with running_registry(base) as address, Pusher(address) as pusher:  # fill the storage first, without auth
        pusher.index("private/multi", "1", [busybox(), busybox(wget=False, platform="linux/arm64")])
    with token_registry(base) as (address, tokens):
        (tmp_path / "none.json").write_text("{}")
        facts = inspect_images([(f"{address}/private/multi:1", [], [])], docker_config=tmp_path / "none.json")[0]
        assert isinstance(facts, ImageFacts), facts
        assert facts.platforms == ["linux/amd64", "linux/arm64"] and facts.program("wget").path == "/usr/bin/wget"  # type: ignore[union-attr]
        assert tokens.issued >= 1
