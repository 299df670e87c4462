"""`aipair upgrade renovate-config`: the Renovate config that tracks the catalog's images."""

from __future__ import annotations

import json
from pathlib import Path

from ...catalog.model import Catalog
from ...engines.files import write_json
from ...render.renovate import render_renovate


def renovate_config(catalog: Catalog, catalog_path: Path, out: Path | None) -> str:
    """The config as JSON text; written to ``out`` when given."""
    config = render_renovate(catalog, catalog_path.name)
    if out is not None:
        write_json(out, config)
    return json.dumps(config, indent=2) + "\n"
