"""Snapshot sets of Docker volumes, kept on the engine itself: taken before a deploy, restored on rollback.

A set is one volume per snapshotted data volume, named ``<compose-project>-snap-<id>-<volume>`` and
labelled with everything needed to find, judge and restore it (so the engine is the only store: nothing
lives beside the catalog, and a set taken from one checkout is seen from another). Copies run on the
engine in engines/volumes' helper container, so nothing travels through aipair, also over ssh.

Consistency is the caller's business: stop the containers that write a volume before it is taken or
restored (ops/snapshots.py does).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from ..errors import AipairError, UsageError
from ..results import Result, Seconds
from . import volumes

LABEL = "io.aipair.snapshot"
PROJECT = "io.aipair.project"
SERVICE = "io.aipair.service"
VOLUME = "io.aipair.volume"
IMAGE = "io.aipair.image"
CREATED = "io.aipair.created"
BYTES = "io.aipair.bytes"
KIND = "io.aipair.kind"
TRIGGER = "io.aipair.trigger"  # the service whose new version made the snapshot needed
MAX_NAME = 255


class SnapshotError(AipairError):
    """A snapshot could not be taken, found or restored."""


class UnknownSnapshot(UsageError):
    """No snapshot set has that id."""


@dataclass(frozen=True)
class Source:
    """One live volume to snapshot: whose it is, and the image that wrote its data."""

    service: str
    volume: str  # the live volume's full name on the engine
    image: str
    trigger: str = ""  # the service whose new version needs the snapshot (default: ``service``)


class SnapshotEntry(Result):
    service: str
    volume: str = Field(description="The live volume's full name.")
    snapshot: str = Field(description="The snapshot volume's name.")
    image: str = Field(description="The image that wrote the data.")
    trigger: str = ""
    bytes: int = 0
    seconds: Seconds = 0.0


class SnapshotSet(Result):
    id: str
    project: str
    created: dt.datetime
    entries: list[SnapshotEntry]

    @property
    def bytes(self) -> int:
        return sum(entry.bytes for entry in self.entries)


def new_id(now: dt.datetime | None = None) -> str:
    """UTC time, then a short random part: ids sort by when they were taken, and two in one second differ."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{moment:%Y%m%dt%H%M%S}z{secrets.token_hex(2)}"


def snapshot_volume_name(project: str, snapshot_id: str, volume: str) -> str:
    """``<project>-snap-<id>-<volume>`` (the volume without its ``<project>_`` prefix), cut to the engine's
    limit with a hash of the whole kept, so that two long names never meet."""
    short = volume.removeprefix(f"{project}_")
    name = f"{project}-snap-{snapshot_id}-{short}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name[: MAX_NAME - 13]}-{digest}"


def take(client: Any, project: str, sources: list[Source], *, now: dt.datetime | None = None) -> SnapshotSet:
    """Copy every source volume into a new snapshot volume of one set. Stop the writers first. A failure
    removes the set's volumes made so far: a half set is never left behind."""
    snapshot_id = new_id(now)
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    entries: list[SnapshotEntry] = []
    made: list[str] = []
    try:
        for source in sources:
            name = snapshot_volume_name(project, snapshot_id, source.volume)
            size = volumes.size(client, source.volume)  # labels are fixed at creation: measure first
            labels = {
                LABEL: snapshot_id,
                PROJECT: project,
                SERVICE: source.service,
                VOLUME: source.volume,
                IMAGE: source.image,
                CREATED: created.isoformat(),
                BYTES: str(size),
                KIND: "volume",
                TRIGGER: source.trigger or source.service,
            }
            volumes.create(client, name, labels)
            made.append(name)
            copied = volumes.copy(client, source.volume, name)
            entries.append(
                SnapshotEntry(
                    service=source.service,
                    volume=source.volume,
                    snapshot=name,
                    image=source.image,
                    trigger=source.trigger or source.service,
                    bytes=copied.bytes,
                    seconds=copied.seconds,
                )
            )
    except BaseException:
        for name in made:
            volumes.remove(client, name)
        raise
    return SnapshotSet(id=snapshot_id, project=project, created=created, entries=entries)


def list_sets(client: Any, project: str | None = None) -> list[SnapshotSet]:
    """Every snapshot set on the engine (of ``project`` when given), newest first."""
    filters = [LABEL] + ([f"{PROJECT}={project}"] if project else [])
    found = client.volumes.list(filters={"label": filters})
    sets: dict[str, SnapshotSet] = {}
    for volume in found:
        labels = volume.attrs.get("Labels") or {}
        snapshot_id = labels.get(LABEL, "")
        if not snapshot_id:
            continue
        entry = SnapshotEntry(
            service=labels.get(SERVICE, ""),
            volume=labels.get(VOLUME, ""),
            snapshot=volume.name,
            image=labels.get(IMAGE, ""),
            trigger=labels.get(TRIGGER, labels.get(SERVICE, "")),
            bytes=int(labels.get(BYTES, "0") or 0),
        )
        if snapshot_id not in sets:
            created = dt.datetime.fromisoformat(labels.get(CREATED) or "1970-01-01T00:00:00+00:00")
            sets[snapshot_id] = SnapshotSet(
                id=snapshot_id, project=labels.get(PROJECT, ""), created=created, entries=[]
            )
        sets[snapshot_id].entries.append(entry)
    for each in sets.values():
        each.entries.sort(key=lambda entry: (entry.service, entry.volume))
    return sorted(sets.values(), key=lambda each: each.id, reverse=True)


def get(client: Any, snapshot_id: str, project: str | None = None) -> SnapshotSet:
    """The set ``snapshot_id``; UnknownSnapshot naming the ones there are."""
    sets = list_sets(client, project)
    for each in sets:
        if each.id == snapshot_id:
            return each
    known = ", ".join(each.id for each in sets[:5]) or "none"
    raise UnknownSnapshot(
        f"no snapshot set {snapshot_id!r}{f' of project {project}' if project else ''} on the engine "
        f"(newest: {known}); `aipair snapshots list` shows them"
    )


def restore(
    client: Any, snapshot_id: str, only_services: list[str] | None = None, *, project: str | None = None
) -> list[SnapshotEntry]:
    """Copy the set's data back into the live volumes (which must exist; what they hold is replaced). Stop the
    containers using them first. Every live volume is checked before anything is written."""
    chosen = get(client, snapshot_id, project)
    entries = [e for e in chosen.entries if only_services is None or e.service in only_services]
    missing = [entry.volume for entry in entries if not volumes.exists(client, entry.volume)]
    if missing:
        raise SnapshotError(
            f"snapshot {snapshot_id}: the live volumes {', '.join(missing)} do not exist on the engine; nothing was "
            "restored. Deploy the project once (it creates them), then restore"
        )
    restored = []
    for entry in entries:
        copied = volumes.copy(client, entry.snapshot, entry.volume)
        restored.append(entry.model_copy(update={"bytes": copied.bytes, "seconds": copied.seconds}))
    return restored


def remove(client: Any, snapshot_id: str, project: str | None = None) -> list[str]:
    """Remove every volume of the set; the names removed."""
    chosen = get(client, snapshot_id, project)
    for entry in chosen.entries:
        volumes.remove(client, entry.snapshot)
    return [entry.snapshot for entry in chosen.entries]
