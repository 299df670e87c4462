"""Docker volumes copied and measured on the engine itself: snapshots, restores, a validation's data.

The work runs in a short-lived helper container of the locally made busybox image
(engines/mockimage.py: nothing is pulled, and it works the same over ssh). The source is mounted
read-only. Data never travels through this process, so it all runs at the speed of the engine's disk,
whatever the link to the engine.

Two ways to keep a volume's data in another volume: ``copy`` (`cp -a`, a live tree: a validation's
copy of the data) and ``archive``/``unarchive`` (one tar file: snapshots, which are written once and
read back at most once, so one sequential file beats re-creating every file and directory). busybox
tar keeps numeric owners, modes, file times, symlinks, hard links, dot files, fifos and the volume
root's own owner and mode; it does not keep extended attributes or ACLs (neither does busybox `cp -a`)
nor directories' times (a directory's time is that of the restore).

Consistency is the caller's business: stop the containers that write a volume (or dump their
database) before copying it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..errors import AipairError
from .mockimage import ensure_mock_image

HELPER_LABEL = "io.aipair.helper"

# A digest of a tree's content, names, modes and owners, in a stable order (busybox: find, sort, stat,
# sha256sum). Links are summed by their target, so a copy that keeps them compares equal.
DIGEST_SCRIPT = r"""set -e
cd /data
find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r path; do
  stat -c '%n %f %u %g' "$path"
  if [ -L "$path" ]; then readlink "$path"; elif [ -f "$path" ]; then sha256sum < "$path"; fi
done | sha256sum | cut -d' ' -f1
"""

# Empty the target (dot files too), copy, then report the copy's apparent size in bytes.
COPY_SCRIPT = r"""set -e
find /to -mindepth 1 -maxdepth 1 -exec rm -rf {} +
cp -a /from/. /to/
du -sb /to | cut -f1
"""


# One tar archive of the whole tree, written aside and renamed, so a half-written archive is never taken for one;
# the archive's size in bytes last.
ARCHIVE_SCRIPT = r"""set -e
out="/to/$AIPAIR_ARCHIVE"
if [ -e "$out" ]; then echo "$AIPAIR_ARCHIVE exists already in the volume: an archive is never overwritten" >&2; exit 2; fi
trap 'rm -f "$out.partial"' EXIT
tar --numeric-owner -cf "$out.partial" -C /from .
mv "$out.partial" "$out"
stat -c %s "$out"  # not wc -c: busybox wc reads the whole file
"""

# Empty the target (dot files too), then extract as root with numeric owners and modes; the archive's size last.
# A missing or empty archive is refused before the target is touched.
UNARCHIVE_SCRIPT = r"""set -e
in="/from/$AIPAIR_ARCHIVE"
if [ ! -s "$in" ]; then echo "$AIPAIR_ARCHIVE is missing or empty in the volume; nothing was changed" >&2; exit 2; fi
find /to -mindepth 1 -maxdepth 1 -exec rm -rf {} +
tar --numeric-owner -xpf "$in" -C /to
stat -c %s "$in"
"""

ARCHIVE = "volume.tar"


class VolumeError(AipairError):
    """A volume could not be copied or read (the helper container failed)."""


@dataclass(frozen=True)
class Copied:
    source: str
    target: str
    bytes: int
    seconds: float


def exists(client: Any, name: str) -> bool:
    from docker.errors import NotFound

    try:
        client.volumes.get(name)
    except NotFound:
        return False
    return True


def create(client: Any, name: str, labels: dict[str, str]) -> None:
    """A new local volume; an existing one of that name is an error (a snapshot is never overwritten)."""
    if exists(client, name):
        raise VolumeError(f"volume {name} exists already; nothing was written to it")
    client.volumes.create(name=name, driver="local", labels=labels)


def remove(client: Any, name: str) -> None:
    """Remove ``name``; gone already is fine."""
    from docker.errors import NotFound

    try:
        client.volumes.get(name).remove()
    except NotFound:
        return


def run_helper(
    client: Any,
    script: str,
    mounts: dict[str, tuple[str, str]],
    what: str,
    *,
    image: str | None = None,
    network: str | None = None,
    environment: dict[str, str] | None = None,
) -> str:
    """Run ``script`` in the helper image with ``mounts`` ({volume: (path, "ro"|"rw")}); its stdout, or
    VolumeError with its stderr. The container is removed whatever happens.

    ``image`` replaces the busybox helper (e.g. a database server's own image, for its dump tools),
    ``network`` attaches it to that network (else it has none), ``environment`` is its environment:
    the way to hand it a secret, which then appears on no command line."""
    image = image or ensure_mock_image(client)[0]
    container = client.containers.create(
        image,
        entrypoint=["/bin/sh", "-c", script],
        volumes={volume: {"bind": path, "mode": mode} for volume, (path, mode) in mounts.items()},
        labels={HELPER_LABEL: what},
        environment=environment or {},
        user="0:0",  # to read and keep every owner's files
        **({"network": network} if network else {"network_disabled": True}),
    )
    try:
        container.start()
        status = container.wait()
        out = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        if status.get("StatusCode") != 0:
            err = container.logs(stdout=False, stderr=True).decode("utf-8", "replace").strip()
            raise VolumeError(f"{what} failed (exit {status.get('StatusCode')}): {err[-500:]}")
        return str(out)
    finally:
        container.remove(force=True)


def copy(client: Any, source: str, target: str) -> Copied:
    """Make ``target``'s content exactly ``source``'s (what was in ``target`` is removed first)."""
    for name in (source, target):
        if not exists(client, name):
            raise VolumeError(f"volume {name} does not exist on the engine; nothing was copied")
    started = time.monotonic()
    out = run_helper(
        client, COPY_SCRIPT, {source: ("/from", "ro"), target: ("/to", "rw")}, f"copy {source} to {target}"
    )
    return Copied(source, target, int(out.strip().splitlines()[-1]), time.monotonic() - started)


def digest(client: Any, name: str) -> str:
    """sha256 of the volume's tree (names, modes, owners, contents, link targets): equal digests, equal data."""
    if not exists(client, name):
        raise VolumeError(f"volume {name} does not exist on the engine")
    return run_helper(client, DIGEST_SCRIPT, {name: ("/data", "ro")}, f"digest of {name}").strip()


def size(client: Any, name: str) -> int:
    """Apparent size of the volume's content in bytes."""
    return int(run_helper(client, "du -sb /data | cut -f1", {name: ("/data", "ro")}, f"size of {name}").strip())


def _need(client: Any, names: tuple[str, ...], what: str) -> None:
    for name in names:
        if not exists(client, name):
            raise VolumeError(f"volume {name} does not exist on the engine; nothing was {what}")


def archive(client: Any, source: str, target: str, file: str = ARCHIVE) -> Copied:
    """Write ``source``'s whole tree as one tar file ``file`` into ``target`` (an existing file there is never
    overwritten). Copied(bytes = the archive's size)."""
    _need(client, (source, target), "archived")
    size, seconds = _tar(client, ARCHIVE_SCRIPT, source, target, file, f"archive of {source} into {target}")
    return Copied(source, f"{target}/{file}", size, seconds)


def unarchive(client: Any, source: str, target: str, file: str = ARCHIVE) -> Copied:
    """Make ``target``'s content exactly the tar file ``source``/``file`` (what was in ``target`` is removed
    first, once the archive is known to be there). Copied(bytes = the archive's size)."""
    _need(client, (source, target), "restored")
    size, seconds = _tar(client, UNARCHIVE_SCRIPT, source, target, file, f"restore of {target} from {source}/{file}")
    return Copied(f"{source}/{file}", target, size, seconds)


def _tar(client: Any, script: str, source: str, target: str, file: str, what: str) -> tuple[int, float]:
    """Run an archive script with ``source`` at /from (read-only) and ``target`` at /to; (the archive's size
    it printed last, seconds)."""
    started = time.monotonic()
    out = run_helper(
        client, script, {source: ("/from", "ro"), target: ("/to", "rw")}, what, environment={"AIPAIR_ARCHIVE": file}
    )
    return int(out.strip().splitlines()[-1]), time.monotonic() - started
