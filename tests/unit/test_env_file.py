"""compose/.env: read with Compose's rules, never a silent rotation, JWTs signed with the unquoted key (M4).

What Compose itself reads from each variant is checked against the real binary in
tests/cli/test_env_file_compose.py; here: aipair's reader, ensure_env and what its result carries.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import stat
from pathlib import Path

import pytest

from aipair.catalog import load_catalog
from aipair.catalog.model import Catalog
from aipair.engines.secretstore import EnvFileError, EnvResult, ensure_env, format_assignment, read_env

from ..helpers.catalogs import minimal, write
from ..helpers.envfiles import VARIANTS, Variant


def signing_catalog(tmp_path: Path) -> Catalog:
    """KEY (generated) signs ANON_JWT; both are read by the web service in phase mvp."""
    data = minimal()
    data["secrets"]["KEY"] = {"generate": {"length": 40}}
    data["secrets"]["ANON_JWT"] = {"jwt": {"signed_with": "KEY", "claims": {"role": "anon"}}}
    data["services"]["web"]["env"].update({"KEY": "${KEY}", "ANON_JWT": "${ANON_JWT}"})
    return load_catalog(write(tmp_path, data))


def signed_with(token: str, key: str) -> bool:
    head, body, signature = token.split(".")
    expected = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.value is None], ids=lambda v: v.name)
def test_a_line_aipair_cannot_read_unambiguously_is_an_error_naming_file_and_line(
    variant: Variant, tmp_path: Path
) -> None:
    path = tmp_path / ".env"
    path.write_bytes(variant.text.encode())
    with pytest.raises(EnvFileError, match=rf"^{path}:\d+: "):
        read_env(path)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.value], ids=lambda v: v.name)
def test_an_existing_secret_in_any_form_is_kept_and_signs_the_jwt_unquoted(variant: Variant, tmp_path: Path) -> None:
    catalog = signing_catalog(tmp_path)
    path = tmp_path / ".env"
    path.write_bytes(variant.text.encode())
    before = path.read_bytes()
    result = ensure_env(catalog, "mvp", path)
    assert "KEY" in result.kept and "KEY" not in result.generated, "an existing secret is never rotated"
    assert path.read_bytes().startswith(before.removeprefix(b"\xef\xbb\xbf")), "existing lines are kept as they are"
    values = read_env(path)
    assert values["KEY"] == variant.value
    assert signed_with(values["ANON_JWT"], str(variant.value)), "the JWT is signed with the value Compose reads"
    assert "ANON_JWT" in result.generated


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.value is None], ids=lambda v: v.name)
def test_ensure_env_refuses_an_unreadable_file_and_changes_nothing(variant: Variant, tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(variant.text.encode())
    with pytest.raises(EnvFileError, match=rf"^{path}:\d+: "):
        ensure_env(signing_catalog(tmp_path), "mvp", path)
    assert path.read_bytes() == variant.text.encode()


@pytest.mark.parametrize(
    "text", ["KEY=\n", "export KEY=\n", "KEY=''\n", 'KEY=""  # fill me\n', "KEY=old\nKEY=\n", "KEY=\r\n"]
)
def test_an_empty_secret_is_filled_in_place_once(text: str, tmp_path: Path) -> None:
    catalog = signing_catalog(tmp_path)
    path = tmp_path / ".env"
    path.write_bytes(text.encode())
    result = ensure_env(catalog, "mvp", path)
    assert sorted(result.generated) == ["ANON_JWT", "CACHE_PASSWORD", "KEY"]
    values = read_env(path)
    assert len(values["KEY"]) == 40 and signed_with(values["ANON_JWT"], values["KEY"])
    assert path.read_text().count("KEY=") == text.count("KEY="), "filled in place, not appended"
    assert ensure_env(catalog, "mvp", path).generated == [], "the second run keeps everything"


def test_a_jwt_whose_key_is_generated_now_is_signed_again(tmp_path: Path) -> None:
    """A kept JWT signed by a key that no longer exists would be invalid the moment the key is made."""
    catalog = signing_catalog(tmp_path)
    path = tmp_path / ".env"
    path.write_text("ANON_JWT=eyJhbGciOiJIUzI1NiJ9.e30.c2ln\n")
    result = ensure_env(catalog, "mvp", path)
    assert sorted(result.generated) == ["ANON_JWT", "CACHE_PASSWORD", "KEY"]
    values = read_env(path)
    assert signed_with(values["ANON_JWT"], values["KEY"])


def test_a_new_file_is_private_and_consistent(tmp_path: Path) -> None:
    catalog = signing_catalog(tmp_path)
    path = tmp_path / "compose" / ".env"
    result = ensure_env(catalog, "mvp", path)
    assert result.created and sorted(result.generated) == ["ANON_JWT", "CACHE_PASSWORD", "KEY"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = read_env(path)
    assert signed_with(values["ANON_JWT"], values["KEY"])
    assert values["API_TOKEN"] == ""


def test_the_result_carries_names_never_values(tmp_path: Path) -> None:
    catalog = signing_catalog(tmp_path)
    path = tmp_path / ".env"
    path.write_text("KEY='kept-secret-value'\n")
    result = ensure_env(catalog, "mvp", path)
    values = read_env(path)
    shown = repr(result) + json.dumps(dataclasses.asdict(result), default=str)
    for value in values.values():
        if value:
            assert value not in shown
    assert {f.name for f in dataclasses.fields(EnvResult)} == {"path", "generated", "kept", "unset_supplied", "created"}


@pytest.mark.parametrize("value", ["it's", "a\nb", "a\rb", "it's $HOME"])
def test_a_value_compose_cannot_read_back_is_never_written(value: str) -> None:
    if "'" in value and "$" not in value and "\n" not in value:
        assert format_assignment("KEY", value) == f'KEY="{value}"'
        return
    with pytest.raises(ValueError):
        format_assignment("KEY", value)


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"KEY=\xff\xfe\n")
    with pytest.raises(EnvFileError, match=rf"^{path}:1: "):
        read_env(path)
