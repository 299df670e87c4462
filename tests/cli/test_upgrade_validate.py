"""`aipair upgrade validate` and `apply`: usage errors found before any engine is needed."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from aipair.cli import app

runner = CliRunner()


def test_unknown_service_is_a_usage_error(tmp_path: Path) -> None:
    from ..helpers.paths import DEFAULT_CATALOG

    for command in (["upgrade", "validate", "qdrnt", "1.0.0"], ["upgrade", "apply", "qdrnt", "1.0.0"]):
        result = runner.invoke(app, [*command, "--catalog", str(DEFAULT_CATALOG)])
        assert result.exit_code == 2 and "did you mean 'qdrant'?" in result.stderr, command
