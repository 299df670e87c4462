"""`aipair snapshots …`: the data snapshots deploys take before they change a stateful service."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .options import DEFAULT_CATALOG, CatalogOption, HostOption, JsonOption, ProfileChoice, ProfileOption, load

app = typer.Typer(
    help="Data snapshots taken by `aipair deploy` before it changes a stateful service (or one that migrates a "
    "declared database). Each set is one Docker volume per data volume, kept on the engine beside the live ones; a "
    "failed deploy with --rollback-on-failure restores its set, and the catalog's defaults.snapshots (keep, max_age) "
    "prunes old ones after each successful deploy.\n\n"
    "Example:  aipair snapshots list",
    no_args_is_help=True,
)

DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show what would happen; change nothing.")]


@app.command("list")
def list_sets(
    catalog: CatalogOption = DEFAULT_CATALOG,
    profile: ProfileOption = ProfileChoice.real,
    host: HostOption = None,
    json_output: JsonOption = False,
) -> None:
    """The project's snapshot sets on the engine, newest first: id, when, which volumes, their size and the
    image that wrote the data.

    \b
    Examples:
      aipair snapshots list
      aipair snapshots list --host ssh://root@vps --json
    """
    from ..ops.snapshots import list_snapshots
    from .output import conclude, reporting
    from .present.snapshots import show_list

    with reporting(json_output):
        loaded = load(catalog)
        conclude(list_snapshots(loaded, catalog.parent, profile=profile.value, host=host), json_output, show_list)


@app.command("prune")
def prune(
    catalog: CatalogOption = DEFAULT_CATALOG,
    profile: ProfileOption = ProfileChoice.real,
    host: HostOption = None,
    keep: Annotated[
        Optional[int],
        typer.Option(
            "--keep", metavar="N", min=0, help="Keep the N newest sets (default: defaults.snapshots.keep, 5)."
        ),
    ] = None,
    max_age: Annotated[
        Optional[str],
        typer.Option(
            "--max-age",
            metavar="AGE",
            help="Remove sets older than this: 30d, 12h, 1d12h (default: defaults.snapshots.max_age, 30d).",
        ),
    ] = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
) -> None:
    """Remove old snapshot sets: all but the --keep newest, and any older than --max-age. A deploy does this by
    itself after it succeeds, with the catalog's policy; run it by hand to free space now.

    \b
    Examples:
      aipair snapshots prune --dry-run          (what the catalog's policy would remove)
      aipair snapshots prune --keep 1 --max-age 7d
    """
    from ..ops.snapshots import prune as run_prune
    from .output import conclude, reporting
    from .present.snapshots import show_prune

    with reporting(json_output):
        loaded = load(catalog)
        result = run_prune(
            loaded, catalog.parent, profile=profile.value, host=host, keep=keep, max_age=max_age, dry_run=dry_run
        )
        conclude(result, json_output, show_prune)


@app.command("restore")
def restore(
    snapshot_id: Annotated[str, typer.Argument(metavar="ID", help="The set's id (`aipair snapshots list`).")],
    catalog: CatalogOption = DEFAULT_CATALOG,
    profile: ProfileOption = ProfileChoice.real,
    host: HostOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before replacing data.")] = False,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
) -> None:
    """Replace the live data with a snapshot set (asks first): the services using its volumes are stopped, the
    volumes' content replaced by the snapshot's, and the services started again on the images they run now.
    What the volumes held is lost (unless another snapshot has it). To go back to an older image as well, use
    `aipair rollback SERVICE --deploy --restore-data`.

    \b
    Examples:
      aipair snapshots restore 20261207t041748z3f9a --dry-run
      aipair snapshots restore 20261207t041748z3f9a --yes
    """
    from ..ops.snapshots import restore as run_restore
    from .output import asker, conclude, progress, reporting
    from .present.snapshots import show_restore

    with reporting(json_output):
        loaded = load(catalog)
        with progress(json_output) as report:
            result = run_restore(
                loaded,
                catalog.parent,
                snapshot_id,
                profile=profile.value,
                host=host,
                confirm=asker(yes),
                dry_run=dry_run,
                report=report,
            )
        conclude(result, json_output, show_restore)
