"""Phase 2 through Pulumi: preview, then (after ``confirm``) update; destroy; the stack's status."""

from __future__ import annotations

from pathlib import Path

from ..catalog.model import Catalog
from ..engines import pulumi as engine
from ..engines.pulumi import StackResult
from ..errors import Declined, UsageError
from .callbacks import Confirm, Progress, no_progress


def require_stack(stack: str | None) -> str:
    if not stack:
        raise UsageError("phase scale needs --stack NAME (for example dev or prod: stacks/Pulumi.<name>.yaml)")
    return stack


def deploy_stack(
    catalog: Catalog,
    root: Path,
    stack: str,
    *,
    preview_only: bool,
    confirm: Confirm,
    backend: str | None,
    output: Progress = no_progress,
) -> StackResult:
    """Preview; unless ``preview_only``, ask ``confirm`` and update. Pulumi's own lines go to ``output``."""
    planned = engine.preview(catalog, root, stack, backend=backend, on_output=output)
    if preview_only:
        return planned
    if not confirm(f"Apply these changes to stack {stack}?"):
        raise Declined("nothing changed")
    return engine.up(catalog, root, stack, backend=backend, on_output=output)


def destroy_stack(
    catalog: Catalog, root: Path, stack: str, *, confirm: Confirm, backend: str | None, output: Progress = no_progress
) -> StackResult:
    if not confirm(f"Delete every resource of stack {stack}?"):
        raise Declined("nothing deleted")
    return engine.destroy(catalog, root, stack, backend=backend, on_output=output)


def stack_status(catalog: Catalog, root: Path, stack: str, *, backend: str | None) -> StackResult:
    return engine.outputs(catalog, root, stack, backend=backend)
