"""engines/volumes.py on a real engine: a copy keeps every byte, owner, mode and link, empties the target
first, never writes the source; the digest tells copies apart; missing volumes are refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from aipair.engines import docker as engine
from aipair.engines import volumes
from aipair.engines.mockimage import ensure_mock_image

SEED = (
    "mkdir -p /d/sub && printf 'v1\\n' > /d/sub/data && printf x > /d/.hidden && ln -s sub/data /d/link"
    " && chown 1000:1000 /d/sub/data && chmod 0600 /d/sub/data && dd if=/dev/urandom of=/d/blob bs=64k count=16"
)


def _run(client: object, volume: str, script: str) -> str:
    image, _ = ensure_mock_image(client)
    out = client.containers.run(  # type: ignore[attr-defined]
        image, entrypoint=["/bin/sh", "-c", script], volumes={volume: {"bind": "/d", "mode": "rw"}}, remove=True
    )
    return str(out.decode())


@pytest.fixture
def pair(docker_host: str) -> Iterator[tuple[object, str, str]]:
    client = engine.connect(docker_host)
    tag = uuid.uuid4().hex[:8]
    names = (f"aipair-test-src-{tag}", f"aipair-test-dst-{tag}")
    for name in names:
        volumes.create(client, name, {"io.aipair.test": "volumes"})
    yield client, *names
    for name in names:
        volumes.remove(client, name)


def test_copy_keeps_content_owners_modes_links_and_replaces_the_target(pair: tuple[object, str, str]) -> None:
    client, source, target = pair
    _run(client, source, SEED)
    _run(client, target, "echo stale > /d/old && echo stale > /d/.old")
    before = volumes.digest(client, source)

    copied = volumes.copy(client, source, target)

    assert volumes.digest(client, source) == before  # the source is read-only to the copy
    assert volumes.digest(client, target) == before
    assert copied.bytes == volumes.size(client, target) >= 16 * 65536
    listing = _run(client, target, "cd /d && ls -A | sort && stat -c '%n %u %a' sub/data && readlink link")
    assert listing.split() == [".hidden", "blob", "link", "sub", "sub/data", "1000", "600", "sub/data"]


def test_digest_changes_with_content_mode_or_owner(pair: tuple[object, str, str]) -> None:
    client, source, _ = pair
    _run(client, source, SEED)
    seen = {volumes.digest(client, source)}
    for change in ("printf v2 > /d/sub/data", "chmod 0644 /d/sub/data", "chown 0:0 /d/sub/data", "rm /d/.hidden"):
        _run(client, source, change)
        seen.add(volumes.digest(client, source))
    assert len(seen) == 5


def test_missing_volumes_are_refused_and_nothing_is_created(pair: tuple[object, str, str]) -> None:
    client, source, _ = pair
    with pytest.raises(volumes.VolumeError, match="does not exist"):
        volumes.copy(client, source, "aipair-test-absent-x")
    assert not volumes.exists(client, "aipair-test-absent-x")
    with pytest.raises(volumes.VolumeError, match="exists already"):
        volumes.create(client, source, {})
