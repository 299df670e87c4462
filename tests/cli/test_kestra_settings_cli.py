"""Bad Kestra settings through the CLI: exit 2 naming file, line and field, no traceback, nothing written,
and a token in the repository URL never printed (issue 12: M11, '---' in a flow value).

The settings themselves are tested in tests/unit/test_kestra_settings.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ..helpers.commands import cli
from ..helpers.paths import DEFAULT_CATALOG

TOKEN = "glpat-S3cretT0kenValue"


def _write(tmp_path: Path, **kestra: str) -> tuple[Path, int]:
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    data["project"]["kestra"].update(kestra)
    path = tmp_path / "catalog.yaml"
    text = yaml.safe_dump(data, sort_keys=False)
    path.write_text(text)
    key = next(iter(kestra))
    return path, next(n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(f"{key}:"))


@pytest.mark.parametrize(
    "command", [["flows", "render"], ["render"], ["render", "--check"], ["flows", "render", "--check"]]
)
@pytest.mark.parametrize(
    "kestra, field",
    [
        ({"branch": "feat---x"}, "project.kestra.branch"),
        ({"catalog_path": "deploy---a/catalog.yaml"}, "project.kestra.catalog_path"),
        ({"repository": f"https://oauth2:{TOKEN}@gitlab.com/p.git"}, "project.kestra.repository"),
        ({"branch": "--upload-pack=touch"}, "project.kestra.branch"),
    ],
)
def test_bad_kestra_settings_exit_2_located_without_traceback(
    tmp_path: Path, command: list[str], kestra: dict[str, str], field: str
) -> None:
    path, line = _write(tmp_path, **kestra)
    out = tmp_path / "out"
    result = cli(*command, "--catalog", str(path), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}: {field}:" in result.stderr
    assert "Traceback" not in result.output and TOKEN not in result.output
    assert not out.exists()


def test_a_token_in_the_url_is_not_echoed_by_json_either(tmp_path: Path) -> None:
    path, line = _write(tmp_path, repository=f"https://{TOKEN}@github.com/p.git")
    result = cli("catalog", "validate", "--catalog", str(path), "--json")
    assert result.exit_code == 2
    assert TOKEN not in result.output
    assert "repository_token" in (result.stdout + result.stderr)
    if result.stdout.strip():
        json.loads(result.stdout)
