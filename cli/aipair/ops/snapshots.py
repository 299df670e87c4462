"""Snapshots of data before a deploy changes it, and their restore: which volumes, taking them consistently,
listing, pruning with the catalog's retention policy, restoring a set.

Which volumes a deploy must snapshot is decided by ``plan`` (pure): a stateful service whose running
image differs from the one about to be deployed, and the database server of a declared database whose
``migrated_by`` service changes. Its data is copied while its writers are stopped (``compose stop``; the
deploy recreates or restarts them right after). A declared PostgreSQL database may one day be taken as a
logical dump instead: the seam is ``entry_kind`` ("dump" is not planned yet; engines/pgdump.py does the
dump and its restore once merged).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..catalog.database import Database
from ..catalog.model import Catalog
from ..engines import docker as engine
from ..engines import snapshots as store
from ..engines import volumes
from ..engines.compose import ComposeProject
from ..engines.snapshots import SnapshotEntry, SnapshotError, SnapshotSet, Source
from ..errors import AipairError, Declined, UsageError
from ..results import Result, Seconds
from .callbacks import Confirm, Progress, no_progress

EntryKind = Literal["volume", "dump"]

_AGE = re.compile(r"([0-9]+)(ms|s|m|h|d)")
_AGE_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class PlannedSnapshot(Result):
    """One volume a deploy snapshots first, and why."""

    service: str = Field(description="The service whose volume it is (a database server for a migration).")
    volume: str = Field(description="The live volume's full name on the engine.")
    image: str = Field(description="The image running now: the one that wrote the data.")
    trigger: str = Field(description="The service whose new version needs the snapshot.")
    kind: EntryKind = "volume"
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
    value = text.strip()
    if not value or not re.fullmatch(r"([0-9]+(ms|s|m|h|d))+", value):
        raise ValueError(f"{text!r} is not an age; write one such as 30d, 12h or 1d12h")
    return sum(int(number) * _AGE_UNIT[unit] for number, unit in _AGE.findall(value))


# --- planning (pure) ---------------------------------------------------------------------------


def entry_kind(database: Database | None) -> EntryKind:
    """How a snapshot of this data is taken. The seam for logical dumps: "dump" (engines/pgdump.py) is not
    planned yet, so every entry is a volume copy of the server's volumes, the server stopped."""
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
    for server, entry in catalog.services.items():
        if server not in services or server not in running:
            continue
        for database in entry.databases:
            for migrator in database.migrated_by:
                if changed(migrator):
                    add(
                        server,
                        migrator,
                        entry_kind(database),
                        f"{migrator} migrates database {database.name}: {running[migrator]} → "
                        f"{services[migrator]['image']}",
                    )
    return list(planned.values())


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


def take_planned(
    client: Any, project: ComposeProject, planned: list[PlannedSnapshot], report: Progress = no_progress
) -> SnapshotSummary:
    """Stop the writers of the planned volumes, then copy them into one new set."""
    started = time.monotonic()
    writers = users(client, project.name, [p.volume for p in planned])
    report(f"stopping {', '.join(writers) or 'nothing'} to snapshot {len(planned)} volume(s)")
    stop(project, writers)
    sources = [Source(service=p.service, volume=p.volume, image=p.image, trigger=p.trigger) for p in planned]
    try:
        taken = store.take(client, project.name, sources)
    except BaseException:  # no snapshot, no deploy: the stopped services run again as they were
        if writers:
            project.run("start", *writers)
        raise
    for entry in taken.entries:
        report(f"snapshot {taken.id}: {entry.volume} ({entry.bytes} bytes in {entry.seconds:.1f} s)")
    return SnapshotSummary(id=taken.id, entries=taken.entries, stopped=writers, seconds=time.monotonic() - started)


def restore_set(
    client: Any, project: ComposeProject, chosen: SnapshotSet, report: Progress = no_progress
) -> tuple[list[SnapshotEntry], list[str]]:
    """Stop every container using the set's live volumes, then copy the set back; the entries and the services
    stopped."""
    writers = users(client, project.name, [entry.volume for entry in chosen.entries])
    report(f"restoring snapshot {chosen.id}: stopping {', '.join(writers) or 'nothing'}")
    stop(project, writers)
    restored = store.restore(client, chosen.id, project=project.name)
    for entry in restored:
        report(f"restored {entry.volume} from {entry.snapshot} ({entry.bytes} bytes in {entry.seconds:.1f} s)")
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
        store.remove(client, each.id, project)
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
            store.remove(client, each.id, project.name)
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
    writers = users(client, project.name, [entry.volume for entry in chosen.entries])
    result = RestoreResult(project=project.name, id=chosen.id, dry_run=dry_run, entries=chosen.entries, stopped=writers)
    if dry_run:
        return result
    names = ", ".join(entry.volume for entry in chosen.entries)
    if not confirm(f"Replace the data in {names} with snapshot {chosen.id} (stopping {', '.join(writers) or 'none'})?"):
        raise Declined("nothing restored")
    missing = [entry.volume for entry in chosen.entries if not volumes.exists(client, entry.volume)]
    if missing:
        raise SnapshotError(
            f"the live volumes {', '.join(missing)} do not exist; nothing was restored. Deploy once, then restore"
        )
    result.entries, result.stopped = restore_set(client, project, chosen, report)
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
