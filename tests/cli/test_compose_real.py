"""Rendered projects checked by the real Compose binary and by the compose-spec JSON schema."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from aipair.catalog import load_catalog
from aipair.catalog.graph import condition
from aipair.catalog.model import Catalog
from aipair.catalog.probes import HttpHealth, TcpHealth
from aipair.cli import app
from aipair.render.databases import with_init_jobs

from ..helpers.catalogs import minimal, write
from ..helpers.paths import DEFAULT_CATALOG, ROOT

pytestmark = pytest.mark.compose

MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def _render(tmp_path: Path, catalog_path: Path) -> Path:
    result = CliRunner().invoke(
        app, ["render", "--phase", "mvp", "--catalog", str(catalog_path), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    return tmp_path / "compose" / "docker-compose.yml"


def _compose(binary: Path, compose_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), "-f", str(compose_file), *args], capture_output=True, text=True, timeout=60)


EXAMPLES = {path.stem: path for path in sorted((ROOT / "examples").glob("*.yaml"))}


@pytest.fixture(params=["default", "minimal", *EXAMPLES])
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Catalog, Path]:
    if request.param == "minimal":
        source = write(tmp_path, minimal())
    else:
        source = tmp_path / "catalog.yaml"
        shutil.copy(EXAMPLES.get(request.param, DEFAULT_CATALOG), source)
    return with_init_jobs(load_catalog(source)), _render(tmp_path, source)  # what is rendered: init jobs included


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.mock.yml"])
def test_compose_config_accepts_the_file_without_warnings(
    compose_binary: Path, rendered: tuple[Catalog, Path], name: str
) -> None:
    compose_file = rendered[1].parent / name
    result = _compose(compose_binary, compose_file, "config", "-q")
    assert result.returncode == 0, result.stderr
    assert "level=warning" not in result.stderr, result.stderr


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.mock.yml"])
def test_compose_spec_schema_accepts_the_file(compose_schema: dict, rendered: tuple[Catalog, Path], name: str) -> None:
    document = yaml.safe_load((rendered[1].parent / name).read_text())
    validator = jsonschema.validators.validator_for(compose_schema)(compose_schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_normalized_config_has_what_the_catalog_asked_for(compose_binary: Path, rendered: tuple[Catalog, Path]) -> None:
    catalog, compose_file = rendered
    result = _compose(compose_binary, compose_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = catalog.in_phase("mvp")
    assert set(config["services"]) == set(services)
    for name, svc in services.items():
        got = config["services"][name]
        # health: present exactly when the image can run a probe; timings as written
        health = svc.health
        probe_none = isinstance(health, (HttpHealth, TcpHealth)) and health.probe == "none"
        if health is None or probe_none:
            assert "healthcheck" not in got, name
        else:
            assert got["healthcheck"]["interval"] == health.interval
            assert got["healthcheck"]["retries"] == health.retries
        # dependencies with the condition each one waits for
        expected = {}
        for dep in svc.depends_on:
            wanted = condition(services, name, dep)
            dep_health = services[dep].health
            if wanted == "healthy" and isinstance(dep_health, (HttpHealth, TcpHealth)) and dep_health.probe == "none":
                wanted = "started"
            expected[dep] = {
                "healthy": "service_healthy",
                "started": "service_started",
                "completed": "service_completed_successfully",
            }[wanted]
        assert {dep: spec["condition"] for dep, spec in got.get("depends_on", {}).items()} == expected, name
        # a service reaches its own layer and those of its dependencies
        layers = {svc.layer} | {services[d].layer for d in svc.depends_on}
        assert layers <= set(got["networks"]), name
        # limits in bytes and cores
        resources = svc.resources or catalog.defaults.resources
        limits = got["deploy"]["resources"]["limits"]
        assert int(limits["memory"]) == int(resources.memory[:-2]) * MEMORY_UNITS[resources.memory[-2:]], name
        assert float(limits["cpus"]) == resources.cpus, name
        assert got["logging"]["options"]["max-file"] == str(catalog.defaults.logging.max_file)
        assert got["restart"] == ("no" if svc.kind == "job" else catalog.defaults.restart)


def test_secrets_come_only_from_compose_env(compose_binary: Path, tmp_path: Path) -> None:
    source = write(tmp_path, minimal())
    compose_file = _render(tmp_path, source)
    env = (tmp_path / "compose" / ".env").read_text()
    password = next(line.split("=", 1)[1] for line in env.splitlines() if line.startswith("CACHE_PASSWORD="))
    config = json.loads(_compose(compose_binary, compose_file, "config", "--format", "json").stdout)
    assert config["services"]["cache"]["environment"]["REDIS_ARGS"] == f"--requirepass {password}"
    (tmp_path / "compose" / ".env").unlink()
    missing = _compose(compose_binary, compose_file, "config", "-q")
    assert missing.returncode != 0
    assert "CACHE_PASSWORD is not set: run `aipair render --phase mvp` to create compose/.env" in missing.stderr
