"""Snapshot sets of Docker volumes, kept on the engine itself: taken before a deploy, restored on rollback.

A set is one snapshot volume per entry, named ``<compose-project>-snap-<id>-<volume>`` and labelled with
everything needed to find, judge and restore it (so the engine is the only store: nothing lives beside the
catalog, and a set taken from one checkout is seen from another). An entry is either

* kind "volume": one tar archive (``volume.tar``) of a live volume's whole tree (engines/volumes.archive; a
  restore empties the live volume and extracts it), or
* kind "dump": a logical dump (``<database>.dump``) of one declared PostgreSQL database, made and restored
  by engines/pgdump.py while its server runs.

Everything runs on the engine in helper containers, so no data travels through aipair, also over ssh.

Consistency is the caller's business: stop the containers that write a volume before it is taken or
restored, and those using a database before its dump is restored (ops/snapshots.py does).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from ..errors import AipairError, UsageError
from ..results import Result, Seconds
from . import pgdump, volumes
from .pgdump import Server

LABEL = "io.aipair.snapshot"
PROJECT = "io.aipair.project"
SERVICE = "io.aipair.service"
VOLUME = "io.aipair.volume"
IMAGE = "io.aipair.image"
CREATED = "io.aipair.created"
BYTES = "io.aipair.bytes"
KIND = "io.aipair.kind"
TRIGGER = "io.aipair.trigger"  # the service whose new version made the snapshot needed
FORMAT = "io.aipair.format"  # "tar": volume.tar; "pg_dump": <database>.dump
DATABASE = "io.aipair.database"
MAX_NAME = 255


class SnapshotError(AipairError):
    """A snapshot could not be taken, found or restored."""


class UnknownSnapshot(UsageError):
    """No snapshot set has that id."""


Kind = Literal["volume", "dump"]


@dataclass(frozen=True)
class Source:
    """One thing to snapshot: a live volume, or (with ``database`` and ``server``) a database's logical dump.
    ``service``: whose data it is (the server for a dump); ``image``: the image that wrote it."""

    service: str
    volume: str  # the live volume's full name on the engine; for a dump, "" (the server keeps its volume)
    image: str
    trigger: str = ""  # the service whose new version needs the snapshot (default: ``service``)
    database: str = ""
    server: Server | None = None

    @property
    def kind(self) -> Kind:
        return "dump" if self.database else "volume"


class SnapshotEntry(Result):
    service: str
    volume: str = Field(description="The live volume's full name ('' for a dump).")
    snapshot: str = Field(description="The snapshot volume's name.")
    image: str = Field(description="The image that wrote the data.")
    trigger: str = ""
    kind: Kind = "volume"
    database: str = Field(default="", description="The database dumped (kind dump).")
    bytes: int = Field(default=0, description="Apparent size of the volume's content, or the dump's size.")
    seconds: Seconds = 0.0
    format: str = Field(default="tar", description="How it is stored: tar or pg_dump.")

    @property
    def file(self) -> str:
        """The file in the snapshot volume that holds the data."""
        return dump_file(self.database) if self.kind == "dump" else volumes.ARCHIVE


class SnapshotSet(Result):
    id: str
    project: str
    created: dt.datetime
    entries: list[SnapshotEntry]

    @property
    def bytes(self) -> int:
        return sum(entry.bytes for entry in self.entries)


def dump_file(database: str) -> str:
    return f"{database}.dump"


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
    """Archive every source volume (or dump every source database) into a new snapshot volume of one set.
    Stop a volume's writers first; a database's server keeps running. A failure removes the set's volumes made
    so far: a half set is never left behind."""
    snapshot_id = new_id(now)
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    entries: list[SnapshotEntry] = []
    made: list[str] = []
    try:
        for source in sources:
            entries.append(_take_one(client, project, snapshot_id, created, source, made))
    except BaseException:
        for name in made:
            volumes.remove(client, name)
        raise
    return SnapshotSet(id=snapshot_id, project=project, created=created, entries=entries)


def _take_one(
    client: Any, project: str, snapshot_id: str, created: dt.datetime, source: Source, made: list[str]
) -> SnapshotEntry:
    dumped = source.kind == "dump"
    name = snapshot_volume_name(project, snapshot_id, f"dump-{source.database}" if dumped else source.volume)
    labels = {
        LABEL: snapshot_id,
        PROJECT: project,
        SERVICE: source.service,
        VOLUME: source.volume,
        IMAGE: source.image,
        CREATED: created.isoformat(),
        KIND: source.kind,
        TRIGGER: source.trigger or source.service,
    }
    if dumped:
        if source.server is None:
            raise SnapshotError(f"a dump of database {source.database} needs its server; nothing was taken")
        labels |= {DATABASE: source.database, FORMAT: "pg_dump"}
        volumes.create(client, name, labels)
        made.append(name)
        done = pgdump.dump(
            client, source.server, database=source.database, into_volume=name, file=dump_file(source.database)
        )
        size = done.bytes
    else:
        size = volumes.size(client, source.volume)  # labels are fixed at creation: measure first
        volumes.create(client, name, labels | {BYTES: str(size), FORMAT: "tar"})
        made.append(name)
        done = volumes.archive(client, source.volume, name)
    return SnapshotEntry(
        service=source.service,
        volume=source.volume,
        snapshot=name,
        image=source.image,
        trigger=source.trigger or source.service,
        kind=source.kind,
        database=source.database,
        bytes=size,
        seconds=done.seconds,
        format="pg_dump" if dumped else "tar",
    )


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
            kind="dump" if labels.get(KIND) == "dump" else "volume",
            database=labels.get(DATABASE, ""),
            bytes=int(labels.get(BYTES, "0") or 0),
            format=labels.get(FORMAT, ""),
        )
        if snapshot_id not in sets:
            created = dt.datetime.fromisoformat(labels.get(CREATED) or "1970-01-01T00:00:00+00:00")
            sets[snapshot_id] = SnapshotSet(
                id=snapshot_id, project=labels.get(PROJECT, ""), created=created, entries=[]
            )
        sets[snapshot_id].entries.append(entry)
    for each in sets.values():
        each.entries.sort(key=lambda entry: (entry.service, entry.volume, entry.database))
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
    client: Any,
    chosen: SnapshotSet,
    *,
    servers: dict[str, Server] | None = None,
    before_writing: Callable[[], object] = lambda: None,
) -> list[SnapshotEntry]:
    """Put the set ``chosen`` (from ``get``) back: every volume entry replaces its live volume's content (which
    must exist), then every dump entry replaces its database on the running server ``servers``[entry.service].
    Everything is checked before anything is written; then ``before_writing`` runs (stop the containers using
    the volumes and the services using the databases there, so that a refused restore stops nothing)."""
    snapshot_id, entries = chosen.id, chosen.entries
    missing = [entry.volume for entry in entries if entry.kind == "volume" and not volumes.exists(client, entry.volume)]
    if missing:
        raise SnapshotError(
            f"snapshot {snapshot_id}: the live volumes {', '.join(missing)} do not exist on the engine; nothing was "
            "restored. Deploy the project once (it creates them), then restore"
        )
    unreachable = [e.database for e in entries if e.kind == "dump" and e.service not in (servers or {})]
    if unreachable:
        raise SnapshotError(
            f"snapshot {snapshot_id}: the dumps of {', '.join(unreachable)} need their database server running; "
            "nothing was restored. Start it (`aipair deploy`), then restore"
        )
    before_writing()
    restored = []
    for entry in sorted(entries, key=lambda e: e.kind == "dump"):  # volumes first: a server's data before dumps
        if entry.kind == "dump":
            server = (servers or {})[entry.service]
            done = pgdump.restore(client, server, database=entry.database, from_volume=entry.snapshot, file=entry.file)
            restored.append(entry.model_copy(update={"bytes": done.bytes, "seconds": done.seconds}))
        else:
            done = volumes.unarchive(client, entry.snapshot, entry.volume)
            restored.append(entry.model_copy(update={"seconds": done.seconds}))
    return restored


def remove(client: Any, chosen: SnapshotSet) -> list[str]:
    """Remove every volume of the set ``chosen`` (from ``list_sets`` or ``get``); the names removed."""
    for entry in chosen.entries:
        volumes.remove(client, entry.snapshot)
    return [entry.snapshot for entry in chosen.entries]
