"""Every service of the default catalog says where its configuration comes from, and `catalog show` shows it."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from aipair.catalog import load_catalog
from aipair.cli import app

from ..helpers.paths import DEFAULT_CATALOG

runner = CliRunner()


def test_every_declared_service_has_provenance() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    missing = [name for name, svc in catalog.services.items() if svc.provenance is None]
    assert not missing, f"no provenance: {missing}"
    for name, svc in catalog.services.items():
        assert svc.provenance is not None and svc.provenance.upstream.strip(), name
        assert svc.provenance.checked <= dt.date.today(), name


def test_catalog_show_displays_it() -> None:
    shown = json.loads(
        runner.invoke(app, ["catalog", "show", "supabase-db", "--catalog", str(DEFAULT_CATALOG), "--json"]).stdout
    )
    assert "supabase/supabase docker/docker-compose.yml" in shown["provenance"]["upstream"]
    assert shown["provenance"]["checked"] == "2026-11-23"
    table = runner.invoke(app, ["catalog", "show", "crm", "--catalog", str(DEFAULT_CATALOG)])
    assert table.exit_code == 0 and "provenance:" in table.stdout and "twentyhq/twenty" in table.stdout
