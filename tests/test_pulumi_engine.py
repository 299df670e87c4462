"""Phase 2 through the Automation API: what can be checked without the Pulumi CLI and a cluster.

The real Pulumi engine cannot be assembled on these machines (the Go module proxy refuses the
Kubernetes provider's module); these tests cover the clear failures and the pure decisions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipair.app import app
from aipair.catalog import load_catalog
from aipair.engines.pulumi import kubeconfig_present, secret_values_to_add

from .conftest import DEFAULT_CATALOG

runner = CliRunner()


@pytest.fixture
def no_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.pulumi/bin/pulumi either


@pytest.mark.parametrize("command", [["deploy", "--phase", "scale", "--stack", "dev"],
                                     ["deploy", "--phase", "scale", "--stack", "dev", "--preview"],
                                     ["destroy", "--phase", "scale", "--stack", "dev", "--yes"],
                                     ["status", "--phase", "scale", "--stack", "dev"]])
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


def test_missing_stack_secrets_are_generated_and_supplied_ones_listed() -> None:
    catalog = load_catalog(DEFAULT_CATALOG)
    to_set, missing = secret_values_to_add(catalog, {"QDRANT_API_KEY": "kept-as-is"})
    assert "QDRANT_API_KEY" not in to_set
    assert missing == ["SMTP_PASSWORD"]
    assert set(to_set) | {"QDRANT_API_KEY", "SMTP_PASSWORD"} == set(catalog.secrets_for("scale"))
    head, body, signature = to_set["SUPABASE_ANON_KEY"].split(".")  # signed with the JWT secret made now
    expected = hmac.new(to_set["SUPABASE_JWT_SECRET"].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected
    again, _ = secret_values_to_add(catalog, {**to_set, "SMTP_PASSWORD": "x", "QDRANT_API_KEY": "kept-as-is"})
    assert again == {}, "a second run changes nothing"


def test_kubeconfig_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert not kubeconfig_present({})
    assert kubeconfig_present({"aipair:kubeconfig": "apiVersion: v1"})
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\n")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{config}")
    assert kubeconfig_present({})
