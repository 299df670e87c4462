"""`aipair render` and `aipair flows render`: write the rendered files (and compose/.env), or compare
them with the disk for `--check`. The renderers decide the text; this only writes or compares."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from ..catalog.model import Catalog
from ..engines.files import Drift, compare, write_files
from ..engines.secretstore import ensure_env
from ..errors import UsageError
from ..render.files import Rendering, render_all, render_flows, render_phase
from ..render.report import Note
from ..results import Result


class FileState(Result):
    path: str
    changed: bool


class EnvSummary(Result):
    path: str
    generated: list[str]
    kept: int
    unset_supplied: list[str]


class RenderResult(Result):
    ok: bool = True
    phase: str
    files: list[FileState]
    notes: list[Note]
    env: EnvSummary | None = Field(default=None, exclude_if=lambda env: env is None)
    root: Path = Field(exclude=True)


class CheckResult(Result):
    """``--check``: what differs from what the catalog renders (nothing written)."""

    ok: bool
    phase: str
    drift: list[Drift]
    files: int = Field(exclude=True)  # how many files were compared


def source_name(catalog_path: Path, root: Path) -> str:
    """How generated headers name the catalog: relative to the output root when possible."""
    try:
        return os.path.relpath(catalog_path.resolve(), root.resolve())
    except ValueError:  # another drive on Windows
        return catalog_path.name


def write_or_check(
    rendering: Rendering, root: Path, *, check: bool, env_for: Catalog | None = None
) -> RenderResult | CheckResult:
    """The one place rendered files meet the disk. ``env_for``: also make sure compose/.env has every secret."""
    if check:
        drifts = compare(root, rendering.files)
        return CheckResult(ok=not drifts, phase=rendering.phase, drift=drifts, files=len(rendering.files))
    env = None
    if env_for is not None:  # first: an unreadable compose/.env stops the render before anything is written
        made = ensure_env(env_for, "mvp", root / "compose" / ".env")
        env = EnvSummary(
            path=str(made.path), generated=made.generated, kept=len(made.kept), unset_supplied=made.unset_supplied
        )
    changed = write_files(root, rendering.files)
    return RenderResult(
        phase=rendering.phase,
        files=[FileState(path=p, changed=p in changed) for p in rendering.files],
        notes=rendering.notes,
        env=env,
        root=root,
    )


def render(
    catalog: Catalog, catalog_path: Path, *, phase: str | None, out: Path | None, check: bool
) -> RenderResult | CheckResult:
    """One phase, or (``phase`` None) every phase and the Kestra flows."""
    root = out if out is not None else catalog_path.parent
    source = source_name(catalog_path, root)
    rendering = render_phase(catalog, phase, source=source) if phase else render_all(catalog, source=source)
    makes_env = phase in (None, "mvp")
    return write_or_check(rendering, root, check=check, env_for=catalog if makes_env else None)


def require_kestra(catalog: Catalog, catalog_path: Path) -> None:
    if catalog.project.kestra is None:
        raise UsageError(
            f"{catalog_path}: project.kestra is not set, so there are no flows; add it "
            "(repository, schedule, runner: see `aipair catalog schema`)"
        )


def render_flow_files(
    catalog: Catalog, catalog_path: Path, *, runner: str | None, out: Path | None, check: bool
) -> RenderResult | CheckResult:
    require_kestra(catalog, catalog_path)
    root = out if out is not None else catalog_path.parent
    return write_or_check(
        render_flows(catalog, source=source_name(catalog_path, root), runner=runner), root, check=check
    )
