"""`aipair deploy` and `status` where no Docker engine answers: a clear message, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers.commands import cli as _cli
from ..helpers.paths import DEFAULT_CATALOG


@pytest.mark.parametrize("command", [["deploy", "--profile", "mock"], ["status"]])
def test_missing_engine_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    result = _cli(*command, "--catalog", str(DEFAULT_CATALOG))
    assert result.exit_code == 3
    assert "no Docker engine answers at unix://" in result.stderr
    assert "aipair host bootstrap" in result.stderr
    assert "Traceback" not in result.output
