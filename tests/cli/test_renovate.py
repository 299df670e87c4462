"""`aipair upgrade renovate-config`: valid for Renovate, and its regex finds every catalog image."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from aipair.catalog import load_catalog
from aipair.cli import app

from ..helpers.paths import DEFAULT_CATALOG


def _config(catalog: Path = DEFAULT_CATALOG) -> dict:
    result = CliRunner().invoke(app, ["upgrade", "renovate-config", "--catalog", str(catalog)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_config_passes_renovates_own_schema() -> None:
    from check_jsonschema import builtin_schemas

    schema = json.loads((Path(builtin_schemas.__file__).parent / "vendor" / "renovate.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    config = _config()
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(config)]
    assert not errors, errors[:5]
    config["customManagers"][0]["customType"] = "regexp"
    assert list(validator.iter_errors(config)), "the schema rejects a wrong manager type"


def test_regex_reads_every_image_of_the_catalog() -> None:
    config = _config()
    pattern = re.compile(config["customManagers"][0]["matchStrings"][0].replace("(?<", "(?P<"))
    catalog = load_catalog(DEFAULT_CATALOG)
    found = [m.groupdict() for m in pattern.finditer(DEFAULT_CATALOG.read_text())]
    expected = [
        {"depName": svc.image_repository, "currentValue": svc.image_tag, "currentDigest": None}
        for svc in catalog.services.values()
    ]
    assert found == expected
    pinned = pattern.search("    image: 127.0.0.1:5000/aipair/web:1.1.0@sha256:" + "a" * 64 + "  # note")
    assert pinned and pinned.group("depName") == "127.0.0.1:5000/aipair/web" and pinned.group("currentValue") == "1.1.0"


def test_package_rules_follow_each_policy() -> None:
    rules = _config()["packageRules"]

    def rules_for(package: str) -> list[dict]:
        return [r for r in rules if r["matchPackageNames"] == [package]]

    postgres = rules_for("pgvector/pgvector")  # track patch: no minor or major updates
    assert {
        "matchPackageNames": ["pgvector/pgvector"],
        "matchUpdateTypes": ["minor", "major"],
        "enabled": False,
        "description": "postgres: track patch",
    } in postgres
    social = rules_for("ghcr.io/gitroomhq/postiz-app")  # track patch: stays on 2.11.x (2.12+ needs Temporal)
    assert any(r.get("matchUpdateTypes") == ["minor", "major"] and r["enabled"] is False for r in social)
    tracardi = rules_for("tracardi/tracardi-api") + rules_for("tracardi/tracardi-gui")
    assert {r.get("groupName") for r in tracardi if "groupName" in r} == {"tracardi (lockstep)"}


def test_ignored_tags_become_a_negative_allowed_versions(tmp_path: Path) -> None:
    text = DEFAULT_CATALOG.read_text().replace(
        "upgrade: { track: patch }                 # stays on 2.11.x",
        'upgrade: { track: minor, ignore: ["v2.12.*"] }  #',
    )
    assert 'ignore: ["v2.12.*"]' in text
    (tmp_path / "catalog.yaml").write_text(text)
    rules = [
        r
        for r in _config(tmp_path / "catalog.yaml")["packageRules"]
        if r["matchPackageNames"] == ["ghcr.io/gitroomhq/postiz-app"]
    ]
    assert any(r.get("allowedVersions") == "!/^v2\\.12\\..*$/" for r in rules)
