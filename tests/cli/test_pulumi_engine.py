"""Phase 2 through the Automation API: what can be checked without the Pulumi CLI and a cluster.

The real Pulumi engine cannot be assembled on these machines (the Go module proxy refuses the
Kubernetes provider's module); these tests cover the clear failures. The pure decisions are in
tests/unit/test_pulumi_engine.py, the real Pulumi CLI in tests/engine/test_pulumi_engine.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipair.cli import app

from ..helpers.paths import DEFAULT_CATALOG

runner = CliRunner()


@pytest.fixture
def no_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.pulumi/bin/pulumi either


@pytest.mark.parametrize(
    "command",
    [
        ["deploy", "--phase", "scale", "--stack", "dev"],
        ["deploy", "--phase", "scale", "--stack", "dev", "--preview"],
        ["destroy", "--phase", "scale", "--stack", "dev", "--yes"],
        ["status", "--phase", "scale", "--stack", "dev"],
    ],
)
def test_missing_pulumi_cli_is_a_clear_message(no_pulumi: None, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--catalog", str(DEFAULT_CATALOG)])
    assert result.exit_code == 3
    assert "the Pulumi CLI is not installed" in result.stderr and "Traceback" not in result.output


def test_phase_scale_needs_a_stack() -> None:
    result = runner.invoke(app, ["deploy", "--phase", "scale", "--catalog", str(DEFAULT_CATALOG)])
    assert result.exit_code == 2 and "phase scale needs --stack NAME" in result.stderr


def test_destroy_asks_first(no_pulumi: None) -> None:
    result = runner.invoke(app, ["destroy", "--stack", "dev", "--catalog", str(DEFAULT_CATALOG)], input="n\n")
    assert result.exit_code == 1 and "nothing deleted" in result.stderr
