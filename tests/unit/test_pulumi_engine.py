"""Phase 2 through the Automation API: the pure decisions (stack secrets to add, kubeconfig detection)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from aipair.catalog import load_catalog
from aipair.engines.pulumi import kubeconfig_present, secret_values_to_add

from ..helpers.paths import DEFAULT_CATALOG


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
