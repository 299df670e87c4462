"""`aipair render`: deterministic files, `--check` for CI, and secrets that are generated once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import stat
from pathlib import Path

from typer.testing import CliRunner

from aipair.catalog import load_catalog
from aipair.cli import app
from aipair.engines.secretstore import read_env

from ..helpers.catalogs import minimal, write
from ..helpers.paths import DEFAULT_CATALOG, ROOT

runner = CliRunner()


def _render(catalog: Path, *extra: str) -> object:
    return runner.invoke(app, ["render", "--phase", "mvp", "--catalog", str(catalog), *extra])


def _copy_default(tmp_path: Path) -> Path:
    target = tmp_path / "catalog.yaml"
    shutil.copy(DEFAULT_CATALOG, target)
    return target


def test_render_twice_gives_byte_identical_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for folder in (a, b):
        assert _render(_copy_default(folder)).exit_code == 0
    for name in ("docker-compose.yml", "docker-compose.mock.yml", ".env.example"):
        assert (a / "compose" / name).read_bytes() == (b / "compose" / name).read_bytes()
    again = json.loads(_render(a / "catalog.yaml", "--json").stdout)
    assert [f["changed"] for f in again["files"]] == [False, False, False]


def test_committed_files_match_the_catalog() -> None:
    result = runner.invoke(app, ["render", "--check", "--catalog", str(ROOT / "catalog.yaml")])
    assert result.exit_code == 0, result.output
    assert "match the catalog" in result.stdout


def test_check_fails_after_a_catalog_edit_and_shows_the_diff(tmp_path: Path) -> None:
    catalog = _copy_default(tmp_path)
    assert _render(catalog).exit_code == 0
    catalog.write_text(
        catalog.read_text().replace("qdrant/qdrant:v1.19.0-unprivileged", "qdrant/qdrant:v1.19.1-unprivileged")
    )
    before = (tmp_path / "compose" / "docker-compose.yml").read_bytes()
    result = runner.invoke(app, ["render", "--check", "--phase", "mvp", "--catalog", str(catalog)])
    assert result.exit_code == 1
    assert "-    image: qdrant/qdrant:v1.19.0-unprivileged" in result.stderr
    assert "+    image: qdrant/qdrant:v1.19.1-unprivileged" in result.stderr
    assert (tmp_path / "compose" / "docker-compose.yml").read_bytes() == before, "--check writes nothing"
    report = json.loads(
        runner.invoke(app, ["render", "--check", "--phase", "mvp", "--json", "--catalog", str(catalog)]).stdout
    )
    assert report["ok"] is False
    # the stand-in does not use the real image, so only the real project drifts
    assert [d["path"] for d in report["drift"]] == ["compose/docker-compose.yml"]


def test_check_reports_missing_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", "--check", "--catalog", str(write(tmp_path, minimal()))])
    assert result.exit_code == 1
    assert "missing compose/docker-compose.yml" in result.stderr
    assert not (tmp_path / "compose").exists()


def test_secrets_are_generated_once_privately_and_never_printed(tmp_path: Path) -> None:
    catalog = _copy_default(tmp_path)
    first = _render(catalog)
    assert first.exit_code == 0
    env_path = tmp_path / "compose" / ".env"
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    values = read_env(env_path)
    assert values["SMTP_PASSWORD"] == ""  # supplied: the operator sets it
    assert "set these in" in first.stdout and "SMTP_PASSWORD" in first.stdout
    generated = {k: v for k, v in values.items() if v}
    default = load_catalog(DEFAULT_CATALOG)
    assert len(generated) == len([n for n in default.secrets_for("mvp") if not default.secrets[n].supplied])
    assert len(values["QDRANT_API_KEY"]) == 48 and values["QDRANT_API_KEY"].isalnum()
    assert len(values["HELPDESK_SECRET_KEY_BASE"]) == 128 and set(values["HELPDESK_SECRET_KEY_BASE"]) <= set(
        "0123456789abcdef"
    )
    assert len(set(generated.values())) == len(generated), "every secret is drawn independently"
    for value in generated.values():
        assert value not in first.output
    content = env_path.read_bytes()
    second = _render(catalog)
    assert second.exit_code == 0 and env_path.read_bytes() == content, "existing secrets are never overwritten"
    assert "secrets into" not in second.stdout


def test_new_and_empty_secrets_are_filled_without_touching_others(tmp_path: Path) -> None:
    data = minimal()
    catalog = write(tmp_path, data)
    assert _render(catalog).exit_code == 0
    env_path = tmp_path / "compose" / ".env"
    original = read_env(env_path)
    env_path.write_text(env_path.read_text().replace(f"CACHE_PASSWORD={original['CACHE_PASSWORD']}", "CACHE_PASSWORD="))
    env_path.write_text(env_path.read_text().replace("API_TOKEN=", "API_TOKEN=from-the-vendor"))
    data["secrets"]["SIGNING_KEY"] = {"generate": {"length": 64, "alphabet": "base64url"}}
    data["services"]["web"]["env"]["SIGNING_KEY"] = "${SIGNING_KEY}"
    write(tmp_path, data)
    result = json.loads(_render(catalog, "--json").stdout)
    assert sorted(result["env"]["generated"]) == ["CACHE_PASSWORD", "SIGNING_KEY"]
    values = read_env(env_path)
    assert values["API_TOKEN"] == "from-the-vendor"
    assert values["CACHE_PASSWORD"] and values["CACHE_PASSWORD"] != original["CACHE_PASSWORD"]
    assert len(values["SIGNING_KEY"]) == 64
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600


def test_supabase_keys_are_jwts_signed_with_the_jwt_secret(tmp_path: Path) -> None:
    assert _render(_copy_default(tmp_path)).exit_code == 0
    values = read_env(tmp_path / "compose" / ".env")
    for name, role in (("SUPABASE_ANON_KEY", "anon"), ("SUPABASE_SERVICE_KEY", "service_role")):
        head, body, signature = values[name].split(".")
        expected = hmac.new(values["SUPABASE_JWT_SECRET"].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        assert base64.urlsafe_b64decode(signature + "==") == expected
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        assert claims["role"] == role and claims["exp"] > claims["iat"]


def test_env_example_lists_keys_without_values(tmp_path: Path) -> None:
    assert _render(_copy_default(tmp_path)).exit_code == 0
    example = (tmp_path / "compose" / ".env.example").read_text()
    keys = [line for line in example.splitlines() if line and not line.startswith("#")]
    assert len(keys) == len(load_catalog(DEFAULT_CATALOG).secrets_for("mvp")) and all(
        line.endswith("=") for line in keys
    )
    assert "# Password of your SMTP relay (auth and help desk e-mail) (supplied: set it yourself)" in example


def test_render_json_reports_files_and_notes(tmp_path: Path) -> None:
    payload = json.loads(_render(write(tmp_path, minimal()), "--json").stdout)
    assert payload["ok"] is True
    assert [f["path"] for f in payload["files"]] == [
        "compose/docker-compose.yml",
        "compose/docker-compose.mock.yml",
        "compose/.env.example",
    ]
    assert {n["topic"] for n in payload["notes"]} >= {"networks", "replicas", "volumes"}
    assert payload["env"]["unset_supplied"] == ["API_TOKEN"]
    header = (tmp_path / "compose" / "docker-compose.yml").read_text().splitlines()[0]
    assert header == "# Generated by aipair from catalog.yaml (phase mvp). Do not edit: change the catalog and run"
