"""Snapshot sets, their pruning and restore, and the snapshot part of a deploy."""

from __future__ import annotations

from ...engines.snapshots import SnapshotEntry, SnapshotSet
from ...ops.snapshots import PruneResult, RestoreResult, SnapshotList, SnapshotSummary
from ..output import escape, out, table


def size(count: int) -> str:
    """Bytes for people: 512 B, 10.0 KB, 1.2 GB (binary units)."""
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def what(entry: SnapshotEntry) -> str:
    """A volume's name, or the database a dump holds."""
    return f"database {entry.database} (dump)" if entry.kind == "dump" else entry.volume


def entries_table(title: str, entries: list[SnapshotEntry], *, timed: bool) -> None:
    view = table(title, ["service", "volume or database", "size", *(["seconds", "MB/s"] if timed else ["image"])])
    for entry in entries:
        rate = entry.bytes / 1e6 / entry.seconds if entry.seconds else 0.0
        extra = [f"{entry.seconds:.1f}", f"{rate:.0f}"] if timed else [escape(entry.image)]
        shown = size(entry.bytes) if entry.bytes or entry.kind == "volume" else "–"
        view.add_row(escape(entry.service), escape(what(entry)), shown, *extra)
    out.print(view)


def show_list(result: SnapshotList) -> None:
    if not result.sets:
        out.print(f"no snapshot sets of project {escape(result.project)} on the engine")
        return
    view = table(
        f"{escape(result.project)}: {len(result.sets)} snapshot sets",
        ["id", "created", "volumes and dumps", "size", "written by"],
    )
    view.columns[0].no_wrap = True  # an id is copied into `aipair snapshots restore ID`: never broken
    for each in result.sets:
        view.add_row(
            escape(each.id),
            f"{each.created:%Y-%m-%d %H:%M:%S} UTC",
            escape("\n".join(f"{e.service}: {what(e)}" for e in each.entries)),
            _set_size(each),
            escape("\n".join(sorted({e.image for e in each.entries}))),
        )
    out.print(view)


def _set_size(each: SnapshotSet) -> str:
    """The volumes' size; a dump's size is not kept on the engine (labels are fixed before it is written)."""
    dumps = sum(entry.kind == "dump" for entry in each.entries)
    if not dumps:
        return size(each.bytes)
    counted = size(each.bytes) + " + " if dumps < len(each.entries) else ""
    return f"{counted}{dumps} dump{'s' if dumps > 1 else ''}"


def _ids(sets: list[SnapshotSet]) -> str:
    return ", ".join(escape(each.id) for each in sets)


def show_prune(result: PruneResult) -> None:
    policy = f"keep {result.keep} newest, none older than {escape(result.max_age)}"
    if not result.removed:
        out.print(f"[green]✓[/] nothing to prune ({policy}); {len(result.kept)} sets kept")
        return
    said = "would remove" if result.dry_run else "[green]✓[/] removed"
    freed = sum(each.bytes for each in result.removed)
    out.print(f"{said} {len(result.removed)} sets ({size(freed)}; {policy}): {_ids(result.removed)}")
    out.print(f"kept {len(result.kept)}: {', '.join(escape(i) for i in result.kept) or 'none'}")


def show_restore(result: RestoreResult) -> None:
    if result.dry_run:
        entries_table(f"would restore snapshot {escape(result.id)}", result.entries, timed=False)
        out.print(f"would stop and start again: {escape(', '.join(result.stopped)) or 'nothing'}")
        return
    entries_table(f"restored snapshot {escape(result.id)}", result.entries, timed=True)
    out.print(
        f"[green]✓[/] restored in {result.seconds:.1f} s; started again: {escape(', '.join(result.started)) or 'none'}"
    )


def show_deploy_snapshot(summary: SnapshotSummary | None, restored: list[SnapshotEntry], pruned: list[str]) -> None:
    """The snapshot lines of `aipair deploy`."""
    if summary is not None:
        entries_table(f"snapshot {escape(summary.id)} before the deploy", summary.entries, timed=True)
    if restored:
        entries_table("data restored from the snapshot", restored, timed=True)
    if pruned:
        out.print(f"pruned {len(pruned)} old snapshot sets: {', '.join(escape(i) for i in pruned)}")
