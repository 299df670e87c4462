"""A deployment of its own for a snapshot test: a project named after the test, taken down after with its
volumes and every snapshot set it left (tests/engine/test_snapshots.py, test_snapshot_dumps.py)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from aipair.engines import snapshots as store

from .catalogs import write
from .commands import cli


@contextmanager
def own_deployment(
    client: Any, tmp_path: Path, request: pytest.FixtureRequest, prefix: str, catalog: Callable[[str], dict[str, Any]]
) -> Iterator[tuple[Path, str]]:
    """The catalog ``catalog(project)`` written in ``tmp_path``, and its project name (``prefix`` and a hash of
    the test's name, so no other test meets it). Profile mock; down with its volumes and snapshots after."""
    project = f"{prefix}{zlib.crc32(request.node.name.encode()) % 10**6}"
    path = write(tmp_path, catalog(project))
    try:
        yield path, project
    finally:
        cli("down", "--volumes", "--yes", "--profile", "mock", "--catalog", str(path))
        for each in store.list_sets(client, f"{project}-mock"):
            store.remove(client, each)
