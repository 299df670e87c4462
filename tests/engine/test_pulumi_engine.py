"""Phase 2 through the real Pulumi CLI and the Automation API, up to the Kubernetes provider (which
these machines cannot obtain: the Go module proxy refuses the provider's module)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipair.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def pulumi_bin() -> Path:
    """The real Pulumi CLI, built from its Go module by scripts/build-pulumi.sh (make test does it)."""
    import shutil

    found = shutil.which("pulumi")
    if not found:
        pytest.fail("the Pulumi CLI is missing: run `make test` (it runs scripts/build-pulumi.sh) or put it on PATH")
    return Path(found)


def test_real_pulumi_cli_keeps_secrets_encrypted_and_stops_at_the_provider(
    pulumi_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real CLI and Automation API up to the Kubernetes provider, which these machines cannot obtain."""
    import shutil
    import subprocess

    import yaml

    from ..helpers.paths import ROOT

    shutil.copy(ROOT / "examples" / "gestasai.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks", ignore=shutil.ignore_patterns(".pulumi", ".passphrase"))
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    preview = ["deploy", "--phase", "scale", "--stack", "dev", "--preview", "--catalog", str(tmp_path / "catalog.yaml")]

    first = runner.invoke(app, preview)
    assert first.exit_code == 2, first.output
    assert "pulumi config set --secret aipair:OPENAI_API_KEY --stack dev" in first.stderr
    config = yaml.safe_load((tmp_path / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    generated = {key: value for key, value in config.items() if isinstance(value, dict)}
    assert set(generated) == {
        "aipair:POSTGRES_PASSWORD",
        "aipair:GATEWAY_JWT_SECRET",
        "aipair:PLUGIN_SHARED_KEY",
        "aipair:QDRANT_API_KEY",
    }
    assert all(value["secure"].startswith("v1:") for value in generated.values()), "encrypted, never plain"
    assert (tmp_path / "stacks" / ".passphrase").stat().st_mode & 0o777 == 0o600

    value_file = tmp_path / "openai-key"
    value_file.write_text("sk-test")
    command = first.stderr.split(": ", 1)[1].strip()
    assert command.endswith("< FILE") and "sk-test" not in first.stderr  # the value is read from a file, never typed
    command = command.replace("< FILE", f"< {value_file}")
    set_supplied = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    assert set_supplied.returncode == 0, set_supplied.stderr

    stored = yaml.safe_load((tmp_path / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    assert stored["aipair:OPENAI_API_KEY"]["secure"].startswith("v1:")

    second = runner.invoke(app, preview)
    assert second.exit_code == 1, second.output
    assert "pulumi failed" in second.stderr and "pulumi-resource-kubernetes" in second.stderr
    assert "Traceback" not in second.output
    again = yaml.safe_load((tmp_path / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    assert {k: again[k] for k in generated} == generated, "secrets are generated once"
    status = runner.invoke(
        app, ["status", "--phase", "scale", "--stack", "dev", "--catalog", str(tmp_path / "catalog.yaml"), "--json"]
    )
    assert "no stack" not in status.stdout, "the stack the preview made is opened, not refused"


@pytest.mark.parametrize("command", [["status", "--phase", "scale"], ["destroy", "--phase", "scale", "--yes"]])
def test_status_and_destroy_never_create_a_stack(
    pulumi_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """Reading or deleting a stack that does not exist says so; it used to create an empty one on the way."""
    import shutil

    from ..helpers.paths import ROOT

    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    backend = tmp_path / "state"
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    args = [
        *command,
        "--stack",
        "nosuch",
        "--backend",
        f"file://{backend}",
        "--catalog",
        str(tmp_path / "catalog.yaml"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "no stack 'nosuch'" in result.stderr and "aipair deploy --phase scale --stack nosuch" in result.stderr
    assert not list(backend.rglob("nosuch*")), "nothing was created in the backend"
