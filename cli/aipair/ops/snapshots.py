"""Snapshots of data before a deploy changes it, and their restore: which volumes, taking them consistently,
listing, pruning with the catalog's retention policy, restoring a set.

What a deploy must snapshot is decided by ``plan`` (pure): the volumes of a stateful service whose running
image differs from the one about to be deployed (archived while its writers are stopped: ``compose stop``,
the deploy recreates or restarts them right after), and each declared database whose ``migrated_by`` service
changes: a logical dump of that one database while its server keeps running (engines/pgdump.py; the seam is
``entry_kind``), or, when its server changes too or cannot be dumped (a mocked stand-in), the server's
volumes. On restore, the services using a dumped database are stopped, the dump replaces the database, and
the server is never stopped.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..catalog.database import Database, superuser, superuser_secret
from ..catalog.model import Catalog, Service
from ..catalog.types import duration_seconds
from ..engines import docker as engine
from ..engines import snapshots as store
from ..engines.compose import ComposeProject
from ..engines.pgdump import Server
from ..engines.secretstore import read_env
from ..engines.snapshots import SnapshotEntry, SnapshotError, SnapshotSet, Source
from ..errors import AipairError, Declined, UsageError
from ..render.mock import MOCK_IMAGE
from ..results import Result, Seconds
from .callbacks import Confirm, Progress, no_progress

EntryKind = Literal["volume", "dump"]


class PlannedSnapshot(Result):
    """One volume (or database) a deploy snapshots first, and why."""

    service: str = Field(description="The service whose volume it is (a database server for a migration).")
    volume: str = Field(description="The live volume's full name on the engine ('' for a dump).")
    image: str = Field(description="The image running now: the one that wrote the data.")
    trigger: str = Field(description="The service whose new version needs the snapshot.")
    kind: EntryKind = "volume"
    database: str = Field(default="", description="The database dumped (kind dump).")
    reason: str


class SnapshotSummary(Result):
    """The set a deploy took: its id, and per volume its size and how long the copy took."""

    id: str
    entries: list[SnapshotEntry]
    stopped: list[str] = Field(default_factory=list, description="Services stopped while their data was copied.")
    seconds: Seconds = 0.0


class SnapshotList(Result):
    project: str
    sets: list[SnapshotSet]


class PruneResult(Result):
    ok: bool = True
    project: str
    keep: int
    max_age: str
    dry_run: bool
    removed: list[SnapshotSet] = Field(default_factory=list)
    kept: list[str] = Field(default_factory=list)


class RestoreResult(Result):
    ok: bool = True
    project: str
    id: str
    dry_run: bool
    entries: list[SnapshotEntry]
    stopped: list[str] = Field(default_factory=list)
    started: list[str] = Field(default_factory=list)
    seconds: Seconds = 0.0


def parse_age(text: str) -> float:
    """Seconds in a retention age (30d, 12h, 1d12h, 90m); ValueError saying what to write."""
    try:
        return duration_seconds(text, days=True)
    except ValueError:
        raise ValueError(f"{text!r} is not an age; write one such as 30d, 12h or 1d12h") from None


# --- planning (pure) ---------------------------------------------------------------------------


def entry_kind(server: Service, database: Database | None, *, mocked: bool = False) -> EntryKind:
    """How a snapshot of this data is taken: a declared database of a PostgreSQL server aipair can log in to (its
    superuser's password is a secret given as POSTGRES_PASSWORD) is dumped, its server running; anything else,
    or a server replaced by its mock stand-in (no database in it), is an archive of the server's volumes."""
    if database is not None and not mocked and superuser_secret(server) is not None:
        return "dump"
    return "volume"


def mounted_volumes(document: dict[str, Any], project: str, service: str) -> list[str]:
    """The engine's names of the named volumes ``service`` mounts in the rendered Compose document."""
    declared = document.get("volumes") or {}
    names = []
    for mount in (document.get("services", {}).get(service) or {}).get("volumes") or []:
        if isinstance(mount, dict) and mount.get("type") == "volume" and mount.get("source"):
            key = mount["source"]
            names.append((declared.get(key) or {}).get("name") or f"{project}_{key}")
    return names


def plan(
    catalog: Catalog, document: dict[str, Any], project: str, running: dict[str, str], existing: set[str]
) -> list[PlannedSnapshot]:
    """The volumes a deploy of ``document`` must snapshot first. ``running``: service → image of its container
    now; ``existing``: volume names on the engine. A first deploy (nothing running, no volume) plans nothing."""
    services = document.get("services") or {}

    def changed(name: str) -> bool:
        new = (services.get(name) or {}).get("image")
        return name in running and new is not None and running[name] != new

    planned: dict[str, PlannedSnapshot] = {}

    def add(service: str, trigger: str, kind: EntryKind, reason: str) -> None:
        for volume in mounted_volumes(document, project, service):
            if volume in existing and volume not in planned:
                planned[volume] = PlannedSnapshot(
                    service=service, volume=volume, image=running[service], trigger=trigger, kind=kind, reason=reason
                )

    for name in services:
        entry = catalog.services.get(name)
        if entry is not None and entry.kind == "stateful" and changed(name):
            add(name, name, "volume", f"{name}: {running[name]} → {services[name]['image']}")
    dumps: dict[str, PlannedSnapshot] = {}
    for server, entry in catalog.services.items():
        if server not in services or server not in running:
            continue
        server_archived = any(p.service == server for p in planned.values())  # its own change: all its data
        mocked = services[server].get("image") == MOCK_IMAGE
        for database in entry.databases:
            for migrator in database.migrated_by:
                if not changed(migrator):
                    continue
                reason = (
                    f"{migrator} migrates database {database.name}: {running[migrator]} → {services[migrator]['image']}"
                )
                kind = entry_kind(entry, database, mocked=mocked)
                if kind == "dump" and not server_archived:
                    dumps.setdefault(
                        f"{server}/{database.name}",
                        PlannedSnapshot(
                            service=server,
                            volume="",
                            image=running[server],
                            trigger=migrator,
                            kind="dump",
                            database=database.name,
                            reason=reason,
                        ),
                    )
                elif kind == "volume":
                    add(server, migrator, "volume", reason)
    return list(planned.values()) + list(dumps.values())


def prune_plan(
    sets: list[SnapshotSet],
    *,
    keep: int,
    max_age: float,
    now: dt.datetime,
    protect: frozenset[str] | set[str] = frozenset(),
) -> list[SnapshotSet]:
    """The sets the retention policy removes: beyond the ``keep`` newest of each project, or older than
    ``max_age`` seconds; never a protected one (the set a deploy just took)."""
    removed: list[SnapshotSet] = []
    seen: dict[str, int] = {}
    for each in sorted(sets, key=lambda s: s.id, reverse=True):
        rank = seen[each.project] = seen.get(each.project, 0) + 1
        too_old = (now - each.created).total_seconds() > max_age
        if each.id not in protect and (rank > keep or too_old):
            removed.append(each)
    return removed


# --- on the engine -----------------------------------------------------------------------------


def users(client: Any, project: str, names: list[str]) -> list[str]:
    """The project's services whose containers (running or not) mount any of the volumes ``names``."""
    wanted = set(names)
    found = {
        (summary.get("Labels") or {}).get("com.docker.compose.service", "")
        for summary in engine.list_containers(client, **{"com.docker.compose.project": project})
        if any(mount.get("Name") in wanted for mount in summary.get("Mounts") or [])
    }
    return sorted(found - {""})


def stop(project: ComposeProject, services: list[str]) -> None:
    """`compose stop` ``services`` (their data is about to be copied)."""
    if not services:
        return
    done = project.run("stop", *services)
    if done.returncode != 0:
        raise SnapshotError(f"could not stop {', '.join(services)} for a consistent copy: {done.stderr.strip()[-400:]}")


def postgres_port(server: Service) -> int:
    """The port the server listens on inside its network (the init job's rule, render/databases.init_job)."""
    return next((p.port for p in server.ports if p.name == "postgres"), server.ports[0].port if server.ports else 5432)


def server_for(client: Any, catalog: Catalog, project: ComposeProject, service: str) -> Server:
    """How engines/pgdump reaches the running PostgreSQL service ``service``: the image of its running container
    (so the tools are its version), a network it is on (its layer's), its superuser and the password from the
    project's .env (handed on only through a helper's environment)."""
    entry = catalog.services.get(service)
    if entry is None:
        raise SnapshotError(f"{service} is not in the catalog: its database cannot be dumped or restored")
    found = [
        summary
        for summary in engine.list_containers(client, **{"com.docker.compose.project": project.name})
        if (summary.get("Labels") or {}).get("com.docker.compose.service") == service
        and summary.get("State") == "running"
    ]
    if not found:
        raise SnapshotError(
            f"{service} is not running, so its databases cannot be dumped or restored; `aipair deploy` starts it"
        )
    container = client.containers.get(found[0]["Id"])
    networks = list((container.attrs.get("NetworkSettings") or {}).get("Networks") or {})
    own = f"{project.name}_{entry.layer}"  # Compose's name for the layer's network (render/compose: one per layer)
    secret = superuser_secret(entry)
    password = read_env(project.directory / ".env").get(secret or "", "")
    if not networks or not secret or not password:
        missing = "a network" if not networks else f"the secret {secret or 'POSTGRES_PASSWORD'} in compose/.env"
        raise SnapshotError(f"{service}: no {missing}, so its databases cannot be dumped or restored")
    return Server(
        image=str(container.attrs["Image"]),
        network=own if own in networks else networks[0],
        host=service,
        superuser=superuser(entry),
        password=password,
        port=postgres_port(entry),
    )


def take_planned(
    client: Any,
    project: ComposeProject,
    planned: list[PlannedSnapshot],
    report: Progress = no_progress,
    *,
    catalog: Catalog | None = None,
) -> SnapshotSummary:
    """Stop the writers of the planned volumes, then archive them (and dump the planned databases, their servers
    running) into one new set. Dumps need the ``catalog`` (how to reach their servers)."""
    started = time.monotonic()
    writers = users(client, project.name, [p.volume for p in planned if p.kind == "volume"])
    servers: dict[str, Server] = {}
    for each in planned:
        if each.kind == "dump" and each.service not in servers:
            if catalog is None:
                raise SnapshotError(f"a dump of database {each.database} needs the catalog; nothing was taken")
            servers[each.service] = server_for(client, catalog, project, each.service)
    volumes_planned = sum(p.kind == "volume" for p in planned)
    dumps = [p.database for p in planned if p.kind == "dump"]
    report(
        f"stopping {', '.join(writers) or 'nothing'} to snapshot {volumes_planned} volume(s)"
        + (f"; dumping {', '.join(dumps)} (server running)" if dumps else "")
    )
    stop(project, writers)
    sources = [
        Source(
            service=p.service,
            volume=p.volume,
            image=p.image,
            trigger=p.trigger,
            database=p.database,
            server=servers.get(p.service) if p.kind == "dump" else None,
        )
        for p in planned
    ]
    try:
        taken = store.take(client, project.name, sources)
    except BaseException:  # no snapshot, no deploy: the stopped services run again as they were
        if writers:
            project.run("start", *writers)
        raise
    for entry in taken.entries:
        what = f"database {entry.database} (dump)" if entry.kind == "dump" else entry.volume
        report(f"snapshot {taken.id}: {what} ({entry.bytes} bytes in {entry.seconds:.1f} s)")
    return SnapshotSummary(id=taken.id, entries=taken.entries, stopped=writers, seconds=time.monotonic() - started)


def database_users(catalog: Catalog | None, entries: list[SnapshotEntry]) -> list[str]:
    """The services that use or migrate the dumped databases (never their servers): stopped while a dump is
    restored, so none writes to the database meanwhile or reconnects to it half-restored."""
    names: set[str] = set()
    servers = {entry.service for entry in entries if entry.kind == "dump"}
    for entry in entries:
        server = catalog.services.get(entry.service) if catalog is not None and entry.kind == "dump" else None
        for database in server.databases if server is not None else []:
            if database.name == entry.database:
                names.update(database.used_by, database.migrated_by)
    return sorted(names - servers)


def to_stop(client: Any, project: str, chosen: SnapshotSet, catalog: Catalog | None) -> list[str]:
    """The services a restore of ``chosen`` stops: every one using its live volumes, and those using its dumped
    databases (never their servers). Dumps need the ``catalog``."""
    writers = users(client, project, [entry.volume for entry in chosen.entries if entry.kind == "volume"])
    dumped = [entry for entry in chosen.entries if entry.kind == "dump"]
    if not dumped:
        return writers
    if catalog is None:
        raise SnapshotError(f"snapshot {chosen.id} holds database dumps: restoring them needs the catalog")
    present = {s.service for s in engine.project_containers(client, project)}
    return sorted(set(writers) | (set(database_users(catalog, dumped)) & present))


def restore_set(
    client: Any,
    project: ComposeProject,
    chosen: SnapshotSet,
    report: Progress = no_progress,
    *,
    catalog: Catalog | None = None,
    writers: list[str] | None = None,
) -> tuple[list[SnapshotEntry], list[str]]:
    """Stop ``writers`` (default: ``to_stop``), then put the set back; the entries and the services stopped."""
    writers = to_stop(client, project.name, chosen, catalog) if writers is None else writers
    servers = {
        entry.service: server_for(client, catalog, project, entry.service)
        for entry in chosen.entries
        if entry.kind == "dump" and catalog is not None
    }
    report(f"restoring snapshot {chosen.id}: stopping {', '.join(writers) or 'nothing'}")
    restored = store.restore(client, chosen, servers=servers, before_writing=lambda: stop(project, writers))
    for entry in restored:
        what = f"database {entry.database}" if entry.kind == "dump" else entry.volume
        report(f"restored {what} from {entry.snapshot} ({entry.bytes} bytes in {entry.seconds:.1f} s)")
    return restored, writers


def for_rollback(client: Any, project: str, service: str, image: str) -> SnapshotSet | None:
    """The newest set holding ``service``'s data (or its migrated databases') taken when the version now being
    rolled back was deployed over ``image``: its own entries were written by ``image``."""
    for each in store.list_sets(client, project):
        mine = [entry for entry in each.entries if entry.trigger == service]
        if mine and all(entry.image == image for entry in mine if entry.service == service):
            return each
    return None


def apply_retention(
    client: Any, catalog: Catalog, project: str, *, protect: set[str], report: Progress = no_progress
) -> list[str]:
    """The catalog's retention policy after a successful deploy; the ids removed."""
    policy = catalog.defaults.snapshots
    doomed = prune_plan(
        store.list_sets(client, project),
        keep=policy.keep,
        max_age=parse_age(policy.max_age),
        now=dt.datetime.now(dt.UTC),
        protect=protect,
    )
    for each in doomed:
        report(f"pruning snapshot {each.id}")
        store.remove(client, each)
    return [each.id for each in doomed]


# --- use cases of `aipair snapshots` -------------------------------------------------------------


def _project(catalog: Catalog, root: Path, profile: str, host: str | None) -> ComposeProject:
    from .deploy import project_for

    return project_for(catalog, root, profile, host)


def list_snapshots(catalog: Catalog, root: Path, *, profile: str, host: str | None) -> SnapshotList:
    project = _project(catalog, root, profile, host)
    return SnapshotList(project=project.name, sets=store.list_sets(engine.connect(host), project.name))


def prune(
    catalog: Catalog,
    root: Path,
    *,
    profile: str,
    host: str | None,
    keep: int | None = None,
    max_age: str | None = None,
    dry_run: bool = False,
) -> PruneResult:
    """Remove the sets beyond the ``keep`` newest or older than ``max_age`` (the catalog's policy by default)."""
    policy = catalog.defaults.snapshots
    keep = policy.keep if keep is None else keep
    age = policy.max_age if max_age is None else max_age
    if keep < 0:
        raise UsageError("--keep: give 0 or more sets to keep")
    try:
        seconds = parse_age(age)
    except ValueError as exc:
        raise UsageError(f"--max-age: {exc}") from None
    project = _project(catalog, root, profile, host)
    client = engine.connect(host)
    sets = store.list_sets(client, project.name)
    doomed = prune_plan(sets, keep=keep, max_age=seconds, now=dt.datetime.now(dt.UTC))
    if not dry_run:
        for each in doomed:
            store.remove(client, each)
    gone = {each.id for each in doomed}
    return PruneResult(
        project=project.name,
        keep=keep,
        max_age=age,
        dry_run=dry_run,
        removed=doomed,
        kept=[each.id for each in sets if each.id not in gone],
    )


def restore(
    catalog: Catalog,
    root: Path,
    snapshot_id: str,
    *,
    profile: str,
    host: str | None,
    confirm: Confirm,
    dry_run: bool = False,
    report: Progress = no_progress,
) -> RestoreResult:
    """Put a set's data back into the live volumes: the services using them are stopped, the data replaced,
    and the services started again (on the images they run now)."""
    started = time.monotonic()
    project = _project(catalog, root, profile, host)
    client = engine.connect(host)
    chosen = store.get(client, snapshot_id, project.name)
    writers = to_stop(client, project.name, chosen, catalog)
    result = RestoreResult(project=project.name, id=chosen.id, dry_run=dry_run, entries=chosen.entries, stopped=writers)
    if dry_run:
        return result
    names = ", ".join(f"database {e.database}" if e.kind == "dump" else e.volume for e in chosen.entries)
    if not confirm(f"Replace the data in {names} with snapshot {chosen.id} (stopping {', '.join(writers) or 'none'})?"):
        raise Declined("nothing restored")
    result.entries, result.stopped = restore_set(client, project, chosen, report, catalog=catalog, writers=writers)
    if result.stopped:
        done = project.run("start", *result.stopped)
        if done.returncode != 0:
            raise AipairError(
                f"the data was restored, but {', '.join(result.stopped)} did not start again: "
                f"{done.stderr.strip()[-400:]}; `aipair deploy` starts them"
            )
        result.started = result.stopped
    result.seconds = time.monotonic() - started
    return result
