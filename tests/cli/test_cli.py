"""The command line: help, version, catalog inspection, schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from aipair import __version__
from aipair.cli import app

from ..helpers.catalogs import minimal, write
from ..helpers.paths import DEFAULT_CATALOG, ROOT

# The default catalog's services, the init job its declared databases bring included.
SERVICES = 30

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"aipair {__version__}"


@pytest.mark.parametrize(
    "command",
    [
        ["render"],
        ["catalog", "validate"],
        ["catalog", "list"],
        ["catalog", "show"],
        ["catalog", "graph"],
        ["catalog", "schema"],
    ],
)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    if command != ["catalog", "schema"]:
        assert "--catalog" in result.stdout


def test_help_imports_nothing_heavy() -> None:
    script = (
        "import sys\nsys.argv = ['aipair', '--help']\nfrom aipair.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = {'pydantic', 'yaml', 'docker', 'pulumi', 'kubernetes', 'httpx', 'jinja2'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_console_script_runs_from_the_environment() -> None:
    script = Path(sys.executable).parent / "aipair"
    result = subprocess.run(
        [str(script), "catalog", "validate", "--catalog", str(DEFAULT_CATALOG)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"is valid: {SERVICES} services" in result.stdout


def test_catalog_env_var_is_the_default_catalog(tmp_path: Path) -> None:
    path = write(tmp_path, minimal())
    result = runner.invoke(app, ["catalog", "list", "--json"], env={"AIPAIR_CATALOG": str(path)})
    assert result.exit_code == 0
    assert [row["name"] for row in json.loads(result.stdout)] == ["proxy", "cache", "migrate", "web"]


def test_catalog_list_table_and_json() -> None:
    table = runner.invoke(app, ["catalog", "list", "--catalog", str(DEFAULT_CATALOG)], env={"COLUMNS": "250"})
    assert table.exit_code == 0
    assert "qdrant/qdrant:v1.19.0-unprivileged" in table.stdout and "supabase.aipair.example.com" in table.stdout
    rows = json.loads(runner.invoke(app, ["catalog", "list", "--json", "--catalog", str(DEFAULT_CATALOG)]).stdout)
    by_name = {row["name"]: row for row in rows}
    assert len(rows) == SERVICES
    assert by_name["app-api"]["public"] == ["app.aipair.example.com/api"]
    assert by_name["qdrant"]["layer"] == "data"
    scale = json.loads(
        runner.invoke(app, ["catalog", "list", "--json", "--phase", "mvp", "--catalog", str(DEFAULT_CATALOG)]).stdout
    )
    assert len(scale) == SERVICES


def test_catalog_show_fills_defaults_and_relations() -> None:
    result = runner.invoke(app, ["catalog", "show", "qdrant", "--json", "--catalog", str(DEFAULT_CATALOG)])
    detail = json.loads(result.stdout)
    assert detail["health"]["probe"] == "bash"
    assert detail["health"]["retries"] == 5  # default filled in
    assert "app-api" in detail["dependents"]
    text = runner.invoke(app, ["catalog", "show", "app-api", "--catalog", str(DEFAULT_CATALOG)])
    assert "depends_on_all" in text.stdout and "supabase-db" in text.stdout  # transitive


def test_catalog_show_unknown_service_suggests_a_name() -> None:
    result = runner.invoke(app, ["catalog", "show", "qdrnt", "--catalog", str(DEFAULT_CATALOG)])
    assert result.exit_code == 2
    assert "no service 'qdrnt' in the catalog; did you mean 'qdrant'?" in result.stderr


def test_catalog_graph_orders_dependencies_first() -> None:
    result = runner.invoke(app, ["catalog", "graph", "--json", "--catalog", str(DEFAULT_CATALOG)])
    graph = json.loads(result.stdout)
    wave_of = {name: index for index, wave in enumerate(graph["waves"]) for name in wave}
    assert len(wave_of) == SERVICES
    for edge in graph["edges"]:
        assert wave_of[edge["from"]] > wave_of[edge["to"]], edge
    assert {"from": "app-api", "to": "postgres-init", "condition": "completed"} in graph["edges"]
    mermaid = runner.invoke(app, ["catalog", "graph", "--format", "mermaid", "--catalog", str(DEFAULT_CATALOG)])
    assert "  app-api -->|healthy| qdrant" in mermaid.stdout.splitlines()


def test_catalog_graph_names_a_cycle(tmp_path: Path) -> None:
    data = minimal()
    data["services"]["cache"]["depends_on"] = ["web"]
    result = runner.invoke(app, ["catalog", "graph", "--catalog", str(write(tmp_path, data))])
    assert result.exit_code == 2
    assert "dependency cycle: cache → web → cache" in result.stderr


def test_schema_describes_the_catalog(tmp_path: Path) -> None:
    result = runner.invoke(app, ["catalog", "schema"])
    schema = json.loads(result.stdout)
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(yaml.safe_load(DEFAULT_CATALOG.read_text())))
    broken = minimal()
    broken["services"]["web"]["imagee"] = "x"
    assert list(validator.iter_errors(broken)), "unknown fields must fail the schema too"
    out = tmp_path / "catalog.schema.json"
    assert runner.invoke(app, ["catalog", "schema", "--out", str(out)]).exit_code == 0
    assert json.loads(out.read_text()) == schema


def test_validate_json_summary() -> None:
    result = runner.invoke(app, ["catalog", "validate", "--json", "--catalog", str(DEFAULT_CATALOG)])
    payload = json.loads(result.stdout)
    assert payload["ok"] is True and payload["services"] == SERVICES and payload["phases"]["mvp"] == SERVICES


def test_env_file_is_git_ignored() -> None:
    if not (ROOT / ".git").exists():
        pytest.fail("the tests run from a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", "compose/.env"], cwd=ROOT, env={**os.environ})
    assert result.returncode == 0, "compose/.env must be git-ignored"
