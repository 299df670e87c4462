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

from aipair.cli import app
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


@pytest.fixture(scope="module")
def pulumi_bin() -> Path:
    """The real Pulumi CLI, built from its Go module by scripts/build-pulumi.sh (make test does it)."""
    import shutil

    found = shutil.which("pulumi")
    if not found:
        pytest.fail("the Pulumi CLI is missing: run `make test` (it runs scripts/build-pulumi.sh) or put it on PATH")
    return Path(found)


def test_real_pulumi_cli_keeps_secrets_encrypted_and_stops_at_the_provider(pulumi_bin: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Real CLI and Automation API up to the Kubernetes provider, which these machines cannot obtain."""
    import shutil
    import subprocess

    import yaml

    from .conftest import ROOT

    shutil.copy(ROOT / "examples" / "gestasai.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns(".pulumi", ".passphrase"))
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    preview = ["deploy", "--phase", "scale", "--stack", "dev", "--preview", "--catalog", str(tmp_path / "catalog.yaml")]

    first = runner.invoke(app, preview)
    assert first.exit_code == 2, first.output
    assert "pulumi config set --secret aipair:OPENAI_API_KEY VALUE --stack dev" in first.stderr
    config = yaml.safe_load((tmp_path / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    generated = {key: value for key, value in config.items() if isinstance(value, dict)}
    assert set(generated) == {"aipair:POSTGRES_PASSWORD", "aipair:GATEWAY_JWT_SECRET", "aipair:PLUGIN_SHARED_KEY",
                              "aipair:QDRANT_API_KEY"}
    assert all(value["secure"].startswith("v1:") for value in generated.values()), "encrypted, never plain"
    assert (tmp_path / "stacks" / ".passphrase").stat().st_mode & 0o777 == 0o600

    command = first.stderr.split(": ", 1)[1].strip().replace("VALUE", "sk-test")
    set_supplied = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    assert set_supplied.returncode == 0, set_supplied.stderr

    second = runner.invoke(app, preview)
    assert second.exit_code == 1, second.output
    assert "pulumi failed" in second.stderr and "pulumi-resource-kubernetes" in second.stderr
    assert "Traceback" not in second.output
    again = yaml.safe_load((tmp_path / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    assert {k: again[k] for k in generated} == generated, "secrets are generated once"
