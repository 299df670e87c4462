"""Where the repository's own files are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CATALOG = ROOT / "catalog.yaml"
CORPUS = ROOT.parent / "shared" / "corpus"
# The default catalog and every example system.
CATALOGS = [DEFAULT_CATALOG, *sorted((ROOT / "examples").glob("*.yaml"))]
