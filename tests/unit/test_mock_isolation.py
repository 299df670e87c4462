"""M8: the mock profile is its own Compose project, `<project>-mock`, with its own containers, networks and
volumes, so that no command on the mock profile (`down --profile mock --volumes` above all) reaches real data."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipair.catalog import load_catalog
from aipair.cli import app
from aipair.ops.deploy import project_for
from aipair.ops.operate import data_volumes
from aipair.render.compose import render_compose

from ..helpers.catalogs import minimal, write
from ..helpers.paths import CATALOGS


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.name)
def test_the_mock_profile_renders_under_its_own_project_name(path: Path) -> None:
    catalog = load_catalog(path)
    real, _ = render_compose(catalog)
    mock, _ = render_compose(catalog, profile="mock")
    assert real["name"] == catalog.project.name
    assert mock["name"] == f"{catalog.project.name}-mock"
    # Traefik in the mock project looks for its routes on the mock project's networks
    networks = {
        value for svc in mock["services"].values() for key, value in svc["labels"].items() if key.endswith(".network")
    }
    assert networks and all(n.startswith(f"{catalog.project.name}-mock_") for n in networks)


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.name)
def test_operations_on_the_mock_profile_name_only_mock_resources(path: Path, tmp_path: Path) -> None:
    catalog = load_catalog(path)
    real = project_for(catalog, tmp_path, "real", None)
    mock = project_for(catalog, tmp_path, "mock", None)
    assert (real.name, mock.name) == (catalog.project.name, f"{catalog.project.name}-mock")
    assert mock.file.name == "docker-compose.mock.yml"
    real_volumes, mock_volumes = set(data_volumes(catalog)), set(data_volumes(catalog, "mock"))
    assert real_volumes and mock_volumes and not real_volumes & mock_volumes


@pytest.mark.compose
@pytest.mark.parametrize("source", ["default", "minimal"])
def test_compose_resolves_disjoint_volumes_and_networks(compose_binary: Path, tmp_path: Path, source: str) -> None:
    """The real Compose binary, reading the rendered files, names no volume or network twice."""
    catalog_path = write(tmp_path, minimal()) if source == "minimal" else tmp_path / "catalog.yaml"
    if source == "default":
        shutil.copy(CATALOGS[0], catalog_path)
    rendered = CliRunner().invoke(app, ["render", "--phase", "mvp", "--catalog", str(catalog_path)])
    assert rendered.exit_code == 0, rendered.output
    resolved = {}
    for profile, name in (("real", "docker-compose.yml"), ("mock", "docker-compose.mock.yml")):
        run = subprocess.run(
            [str(compose_binary), "-f", str(tmp_path / "compose" / name), "config", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        resolved[profile] = json.loads(run.stdout)
    real, mock = resolved["real"], resolved["mock"]
    assert mock["name"] == real["name"] + "-mock"
    for kind in ("volumes", "networks"):
        real_names = {item["name"] for item in real[kind].values()}
        mock_names = {item["name"] for item in mock[kind].values()}
        assert real_names and mock_names and not real_names & mock_names, kind


def test_down_on_the_mock_profile_would_delete_only_mock_volumes(tmp_path: Path) -> None:
    catalog_path = write(tmp_path, minimal())
    runner = CliRunner()
    mock = runner.invoke(app, ["down", "--profile", "mock", "--volumes", "--dry-run", "--catalog", str(catalog_path)])
    assert mock.exit_code == 0, mock.output
    assert "project demo-mock" in mock.output and "would delete volumes: demo-mock_cache-data" in mock.output
    assert "demo_cache-data" not in mock.output
    real = runner.invoke(app, ["down", "--volumes", "--dry-run", "--catalog", str(catalog_path)])
    assert "project demo\n" in real.output and "would delete volumes: demo_cache-data" in real.output
