"""Malformed catalogs: each one exits 2, names the file, line and field, and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipair.cli import app

BASE = """\
version: 1
project:
  name: demo
  domain: demo.example.com
  tls: {acme_email: ops@demo.example.com}
secrets:
  DB_PASSWORD: {generate: {}}
services:
  db:
    layer: data
    kind: stateful
    image: postgres:16.6-alpine
    secrets:
      - {secret: DB_PASSWORD, env: POSTGRES_PASSWORD}
    ports:
      - {name: postgres, port: 5432}
    health: {type: command, command: [pg_isready]}
    volumes:
      - {name: data, path: /var/lib/postgresql/data}
  api:
    layer: application
    image: ghcr.io/demo/api:1.0.0
    ports:
      - {name: http, port: 8080, publish: 8080}
    health: {type: http, port: 8080, path: /healthz, probe: curl}
    depends_on: [db]
"""

API_IMAGE = "    image: ghcr.io/demo/api:1.0.0\n"


def _bomb() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


DB_VOLUMES = "    volumes:\n      - {name: data, path: /var/lib/postgresql/data}\n"


def _databases(entries: str) -> str:
    """BASE with `databases:` declared on the db service (and the secret APP_PW)."""
    return BASE.replace(
        "  DB_PASSWORD: {generate: {}}\n", "  DB_PASSWORD: {generate: {}}\n  APP_PW: {generate: {}}\n"
    ).replace(DB_VOLUMES, DB_VOLUMES + "    databases:\n" + entries)


def _api_volume(entry: str) -> str:
    """BASE with one volume entry on the api service."""
    return BASE.replace("    depends_on: [db]\n", "    depends_on: [db]\n    volumes:\n      - " + entry + "\n")


def _restricted(service_lines: str) -> str:
    """BASE whose namespace enforces Pod Security restricted, with extra lines on the db service."""
    return BASE.replace(
        "  tls: {acme_email: ops@demo.example.com}\n",
        "  tls: {acme_email: ops@demo.example.com}\n  kubernetes: {pod_security: restricted}\n",
    ).replace(DB_VOLUMES, DB_VOLUMES + service_lines)


# (id, text, marker of the expected line (None: any line), expected field, words in the message)
CASES = [
    (
        "restricted-pod-security-and-a-root-image",
        _restricted("    runs_as_root: true\n"),
        "runs_as_root: true",
        "services.db.runs_as_root",
        "enforces Pod Security restricted (project.kubernetes.pod_security), which refuses pods that run as root",
    ),
    (
        "restricted-pod-security-and-uid-0",
        _restricted('    user: "0:0"\n'),
        'user: "0:0"',
        "services.db.user",
        "which refuses runAsUser=0",
    ),
    (
        "pod-security-level-unknown",
        BASE.replace(
            "  tls: {acme_email: ops@demo.example.com}\n",
            "  tls: {acme_email: ops@demo.example.com}\n  kubernetes: {pod_security: strict}\n",
        ),
        "pod_security: strict",
        "project.kubernetes.pod_security",
        "'privileged', 'baseline' or 'restricted'",
    ),
    (
        "shared-volume-unknown-service",
        _api_volume("{name: data, path: /srv, shared_from: dbb}"),
        "shared_from: dbb",
        "services.api.volumes[0].shared_from",
        "unknown service 'dbb'; did you mean 'db'?",
    ),
    (
        "shared-volume-of-a-stateful-service",
        _api_volume("{name: data, path: /srv, shared_from: db}"),
        "shared_from: db}",
        "services.api.volumes[0].shared_from",
        "db is stateful: its volumes are per replica",
    ),
    (
        "shared-volume-the-owner-lacks",
        _api_volume("{name: files, path: /srv, shared_from: db}"),
        "shared_from: db}",
        "services.api.volumes[0].shared_from",
        "db has no volume 'files' of its own",
    ),
    (
        "database-used-by-unknown",
        _databases("      - {name: api, password: APP_PW, used_by: [apii]}\n"),
        "used_by: [apii]",
        "services.db.databases[0].used_by[0]",
        "unknown service 'apii'; did you mean 'api'?",
    ),
    (
        "database-password-unknown",
        _databases("      - {name: api, password: APP_PASS, used_by: [api]}\n"),
        "password: APP_PASS",
        "services.db.databases[0].password",
        "unknown secret 'APP_PASS'",
    ),
    (
        "database-owner-superuser",
        _databases("      - {name: api, owner: postgres, password: APP_PW}\n"),
        "owner: postgres",
        "services.db.databases[0].owner",
        "is the server's superuser",
    ),
    (
        "database-name-not-an-identifier",
        _databases("      - {name: My-App, password: APP_PW}\n"),
        "name: My-App",
        "services.db.databases[0].name",
        "PostgreSQL identifier",
    ),
    (
        "database-declared-twice",
        _databases("      - {name: api, password: APP_PW}\n      - {name: api, password: APP_PW}\n"),
        "LAST:      - {name: api, password: APP_PW}",
        "services.db.databases[1].name",
        "declared twice",
    ),
    (
        "database-without-superuser-password",
        _databases("      - {name: api, password: APP_PW}\n").replace(
            "      - {secret: DB_PASSWORD, env: POSTGRES_PASSWORD}\n", "      - {secret: DB_PASSWORD, env: PGPASS}\n"
        ),
        "    secrets:",
        "services.db.secrets",
        "need the superuser password",
    ),
    (
        "broken-yaml",
        BASE.replace("    layer: application", "    layer: [application"),
        None,
        "",
        "not valid YAML: while parsing a flow sequence did not find expected ',' or ']' (the construct began on line 21)",
    ),
    (
        "unknown-field",
        BASE.replace(API_IMAGE, API_IMAGE + "    imagee: nginx:1.27.0\n"),
        "imagee:",
        "services.api.imagee",
        "unknown field",
    ),
    ("wrong-type", BASE.replace("port: 5432}", "port: lots}"), "port: lots", "services.db.ports[0].port", "integer"),
    (
        "dependency-cycle",
        BASE.replace(
            "    health: {type: command, command: [pg_isready]}\n",
            "    health: {type: command, command: [pg_isready]}\n    depends_on: [api]\n",
        ),
        "depends_on: [api]",
        "services.db.depends_on.api",
        "dependency cycle: db → api → db",
    ),
    (
        "unknown-dependency",
        BASE.replace("depends_on: [db]", "depends_on: [dbb]"),
        "depends_on: [dbb]",
        "services.api.depends_on.dbb",
        "unknown service 'dbb'; did you mean 'db'?",
    ),
    (
        "duplicate-host-port",
        BASE.replace("port: 5432}", "port: 5432, publish: 8080}"),
        "port: 8080, publish: 8080",
        "services.api.ports[0].publish",
        "host port 8080/tcp is already published by db",
    ),
    (
        "invalid-image",
        BASE.replace("postgres:16.6-alpine", "Postgres:16.6-alpine"),
        "Postgres:16.6",
        "services.db.image",
        "not a valid image reference",
    ),
    (
        "latest-tag",
        BASE.replace("postgres:16.6-alpine", "postgres:latest"),
        "postgres:latest",
        "services.db.image",
        "moving tag 'latest'",
    ),
    (
        "untagged-image",
        BASE.replace("postgres:16.6-alpine", "postgres"),
        "image: postgres",
        "services.db.image",
        "has no tag",
    ),
    (
        "invalid-service-name",
        BASE.replace("  api:\n", "  API_Service:\n"),
        "API_Service:",
        "services.API_Service",
        "DNS label",
    ),
    (
        "secret-without-source",
        BASE.replace("DB_PASSWORD: {generate: {}}", "DB_PASSWORD: {description: db}"),
        "DB_PASSWORD: {description",
        "secrets.DB_PASSWORD",
        "exactly one source",
    ),
    (
        "relative-volume-path",
        BASE.replace("path: /var/lib/postgresql/data}", "path: ../pgdata}"),
        "../pgdata",
        "services.db.volumes[0].path",
        "absolute path",
    ),
    (
        "volume-path-escapes",
        BASE.replace("path: /var/lib/postgresql/data}", "path: /var/../etc}"),
        "/var/../etc",
        "services.db.volumes[0].path",
        "'..'",
    ),
    (
        "duplicated-service",
        BASE + "  db:\n    layer: data\n    image: postgres:16.6-alpine\n",
        "LAST:  db:",
        "",
        "duplicate key 'db' (first defined on line 9)",
    ),
    ("empty-catalog", "", None, "", "the catalog is empty"),
    ("comments-only", "# nothing here yet\n", None, "", "the catalog is empty"),
    ("not-a-mapping", "- db\n- api\n", None, "", "must be a mapping"),
    ("yaml-bomb", _bomb(), None, "", "YAML bomb"),
    (
        "missing-health",
        BASE.replace("    health: {type: http, port: 8080, path: /healthz, probe: curl}\n", ""),
        "  api:",
        "services.api.health",
        "needs a health check",
    ),
    (
        "health-port-undeclared",
        BASE.replace("{type: http, port: 8080,", "{type: http, port: 9090,"),
        "port: 9090",
        "services.api.health.port",
        "not among this service's ports",
    ),
    (
        "unknown-health-type",
        BASE.replace("{type: http, port: 8080, path: /healthz, probe: curl}", "{type: grpc, port: 8080}"),
        "type: grpc",
        "services.api.health",
        "unknown type 'grpc'",
    ),
    (
        "unknown-secret-reference",
        BASE.replace(API_IMAGE, API_IMAGE + '    env: {DB_URL: "postgres://u:${DB_PASWORD}@db/x"}\n'),
        "DB_URL",
        "services.api.env.DB_URL",
        "did you mean 'DB_PASSWORD'?",
    ),
    (
        "lone-dollar",
        BASE.replace(API_IMAGE, API_IMAGE + '    env: {PRICE: "5$"}\n'),
        "PRICE",
        "services.api.env.PRICE",
        "write `$$` for a literal dollar sign",
    ),
    (
        "unknown-layer",
        BASE.replace("    layer: application", "    layer: frontend"),
        "layer: frontend",
        "services.api.layer",
        "'frontend' is not allowed",
    ),
    (
        "smoke-with-two-kinds",
        BASE.replace(API_IMAGE, API_IMAGE + "    smoke: [{name: up, http: /healthz, tcp: 8080}]\n"),
        "smoke:",
        "services.api.smoke[0]",
        "exactly one of `http: /path`, `tcp: PORT`, `command: [...]` or `host: [...]`",
    ),
    (
        "missing-required",
        BASE.replace("    layer: application\n", ""),
        "  api:",
        "services.api.layer",
        "missing required field",
    ),
]


@pytest.mark.parametrize(("text", "marker", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_catalog_exits_2_names_line_and_field_and_writes_nothing(
    tmp_path: Path, text: str, marker: str | None, field: str, words: str
) -> None:
    catalog = tmp_path / "bad.yaml"
    catalog.write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(app, ["render", "--phase", "mvp", "--catalog", str(catalog), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = result.stderr
    assert words in message
    if marker is not None:
        lines = text.splitlines()
        if marker.startswith("LAST:"):
            wanted = max(i for i, line in enumerate(lines, 1) if line == marker[5:])
        else:
            wanted = next(i for i, line in enumerate(lines, 1) if marker in line)
        assert f"{catalog}:{wanted}: " in message, message
    else:
        assert f"{catalog}" in message
    if field:
        assert f": {field}: " in message, message
    assert list(out.iterdir()) == [], "nothing may be written for an invalid catalog"


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    catalog = tmp_path / "huge.yaml"
    catalog.write_text(BASE + "# " + "x" * (9 * 2**20) + "\n")
    result = CliRunner().invoke(app, ["catalog", "validate", "--catalog", str(catalog)])
    assert result.exit_code == 2
    assert "a catalog may be at most 8 MiB" in result.stderr


def test_non_utf8_file(tmp_path: Path) -> None:
    catalog = tmp_path / "latin1.yaml"
    catalog.write_bytes(BASE.replace("demo.example.com", "démo").encode("latin-1"))
    result = CliRunner().invoke(app, ["catalog", "validate", "--catalog", str(catalog)])
    assert result.exit_code == 2
    assert "not UTF-8" in result.stderr


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["catalog", "validate", "--catalog", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "file not found; pass --catalog PATH or set AIPAIR_CATALOG" in result.stderr


def test_several_problems_are_all_reported_with_json(tmp_path: Path) -> None:
    text = BASE.replace("postgres:16.6-alpine", "postgres:latest").replace("depends_on: [db]", "depends_on: [dbb]")
    catalog = tmp_path / "bad.yaml"
    catalog.write_text(text)
    result = CliRunner().invoke(app, ["catalog", "validate", "--json", "--catalog", str(catalog)])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    fields = {p["field"]: p for p in payload["problems"]}
    # field rules come first; cross-service rules only run on a catalog that parsed
    assert fields["services.db.image"]["line"] == 12
    assert fields["services.db.image"]["file"] == str(catalog)


def test_render_keeps_previous_outputs_when_the_catalog_breaks(tmp_path: Path) -> None:
    good = tmp_path / "catalog.yaml"
    good.write_text(BASE)
    runner = CliRunner()
    assert runner.invoke(app, ["render", "--catalog", str(good)]).exit_code == 0
    before = {p: p.read_bytes() for p in (tmp_path / "compose").iterdir()}
    good.write_text(BASE.replace("port: 5432}", "port: lots}"))
    assert runner.invoke(app, ["render", "--catalog", str(good)]).exit_code == 2
    assert {p: p.read_bytes() for p in (tmp_path / "compose").iterdir()} == before
