"""`host` smoke tests (ops/upgrade/smoke.py): a real program on this host against the candidate's address.

Every program here really runs (engines/shell.run_bounded). The Docker client is a TEST DOUBLE (no engine
in unit tests): it only reports the candidate's address and where the engine is (its base_url); the real
engine runs them in tests/engine/test_host_smoke.py.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aipair.catalog import load_catalog
from aipair.catalog.loader import parse_catalog
from aipair.catalog.model import Port
from aipair.catalog.probes import SmokeTest
from aipair.errors import CatalogError
from aipair.ops.upgrade.smoke import aipair_command, host_environment, run_smoke
from aipair.ops.upgrade.versions import candidate_image

from ..helpers.catalogs import api_catalog
from ..helpers.kestra_contract import ContractKestra
from ..helpers.paths import DEFAULT_CATALOG, ROOT

PY = sys.executable


def engine_double(base_url: str = "http+docker://localhost", address: str = "127.0.0.1") -> Any:
    """TEST DOUBLE of a DockerClient: the candidate container's address, and the engine's base_url."""
    container = SimpleNamespace(attrs={"NetworkSettings": {"Networks": {"bridge": {"IPAddress": address}}}})
    return SimpleNamespace(api=SimpleNamespace(base_url=base_url), containers=SimpleNamespace(get=lambda _n: container))


def smoke(host: list[str], tmp_path: Path, *, environment: dict[str, str] | None = None, **fields: Any) -> Any:
    test = SmokeTest(name="host-check", host=host, **fields)
    env = {"PATH": "/usr/bin:/bin"} if environment is None else environment
    return run_smoke(engine_double(), "c", test, [Port(port=8080)], environment=env, workdir=tmp_path)


def test_placeholders_are_filled_in_each_argument_and_the_candidate_is_in_the_environment(tmp_path: Path) -> None:
    script = (
        "import os, sys; print(sys.argv[1:], os.environ['AIPAIR_CANDIDATE_URL'], "
        "os.environ['AIPAIR_CANDIDATE_ADDRESS'], os.environ['AIPAIR_CANDIDATE_PORT'], os.getcwd())"
    )
    outcome = smoke([PY, "-c", script, "{url}/x", "{address}", "--port={port}", "{{literal}}"], tmp_path, port=9090)
    assert outcome.ok, outcome
    assert (
        "['http://127.0.0.1:9090/x', '127.0.0.1', '--port=9090', '{literal}'] "
        f"http://127.0.0.1:9090 127.0.0.1 9090 {tmp_path}" in outcome.detail
    )


def test_the_exit_code_and_contains_decide(tmp_path: Path) -> None:
    assert not smoke([PY, "-c", "import sys; print('broken'); sys.exit(3)"], tmp_path).ok
    failed = smoke([PY, "-c", "import sys; print('broken'); sys.exit(3)"], tmp_path)
    assert "exit 3" in failed.detail and "broken" in failed.detail
    assert smoke([PY, "-c", "print('all flows load')"], tmp_path, contains="flows load").ok
    missing = smoke([PY, "-c", "print('nothing here')"], tmp_path, contains="flows load")
    assert not missing.ok and "contains 'flows load': False" in missing.detail


def test_no_shell_reads_the_arguments(tmp_path: Path) -> None:
    outcome = smoke([PY, "-c", "import sys; print(sys.argv[1])", "$(touch pwned); `touch pwned`"], tmp_path)
    assert outcome.ok and "$(touch pwned)" in outcome.detail
    assert not (tmp_path / "pwned").exists()


def test_a_program_that_does_not_end_is_killed_at_its_timeout_with_what_it_started(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time; "
        f"child = subprocess.Popen(['sleep', '60']); open({str(marker)!r}, 'w').write(str(child.pid)); "
        "print('started', flush=True); time.sleep(60)"
    )
    started = time.monotonic()
    outcome = smoke([PY, "-c", script], tmp_path, timeout="1s")
    assert time.monotonic() - started < 10
    assert not outcome.ok and "killed after 1s (timeout)" in outcome.detail and "started" in outcome.detail
    time.sleep(0.2)
    assert not Path(f"/proc/{marker.read_text()}").exists() or "zombie" in _state(marker.read_text())


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return "zombie"


def test_a_background_leftover_does_not_hold_the_check_open(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome = smoke(["sh", "-c", "sleep 60 & echo done"], tmp_path, timeout="30s")
    assert outcome.ok and "done" in outcome.detail
    assert time.monotonic() - started < 10


def test_a_chatty_background_leftover_does_not_turn_an_ended_program_into_a_timeout(tmp_path: Path) -> None:
    """What it leaves running writes without a pause (never 0.2 s idle): the program's own exit still decides."""
    started = time.monotonic()
    outcome = smoke(["sh", "-c", "(while :; do echo tick; sleep 0.01; done) & echo done"], tmp_path, timeout="5s")
    assert outcome.ok and "exit 0" in outcome.detail, outcome
    assert time.monotonic() - started < 4


def test_output_is_kept_to_its_last_300_characters(tmp_path: Path) -> None:
    script = "import sys; sys.stdout.write('x' * 20_000_000); print(); print('the error is here')"
    outcome = smoke([PY, "-c", script], tmp_path)
    assert outcome.ok and outcome.detail.endswith("the error is here")
    assert len(outcome.detail) < 300 + 200


def test_a_missing_program_is_a_failed_check_saying_so(tmp_path: Path) -> None:
    outcome = smoke(["no-such-program-anywhere", "{url}"], tmp_path)
    assert not outcome.ok and "cannot run 'no-such-program-anywhere'" in outcome.detail


def test_with_a_remote_engine_it_fails_saying_why_and_runs_nothing(tmp_path: Path) -> None:
    test = SmokeTest(name="flows", host=["touch", str(tmp_path / "ran")])
    for base_url in ("http+docker://ssh", "http://10.1.2.3:2375", "https://engine.example.com:2376"):
        outcome = run_smoke(engine_double(base_url), "c", test, [Port(port=8080)], environment={}, workdir=tmp_path)
        assert not outcome.ok
        assert "the engine is remote" in outcome.detail and "run `aipair upgrade validate` on the engine's machine" in (
            outcome.detail
        )
    assert not (tmp_path / "ran").exists()
    local = run_smoke(engine_double("http://127.0.0.1:2375"), "c", test, [], environment={}, workdir=tmp_path)
    assert local.ok, local


def catalog_text(argument: str, extra: str = "") -> str:
    """A catalog whose api has an http smoke test and then a host one, ``curl -f <argument>`` (+ ``extra``)."""
    return api_catalog("{name: up, http: /healthz}", f"{{name: cli, host: [curl, -f, {argument}]{extra}}}")


@pytest.mark.parametrize(
    ("argument", "reason"),
    [
        ('"{url}/{path}"', "uses {path}; the placeholders are {address}, {port} and {url}"),
        ('"{url.__class__}"', "uses {url.__class__}"),
        ('"{port!r}"', "a format spec or conversion"),
        ('"{port:>9}"', "a format spec or conversion"),
        ('"{0}"', "uses {0}"),
        ('"{"', "unmatched brace; write {{ and }} for literal braces"),
    ],
)
def test_an_unknown_placeholder_is_refused_at_load_with_file_line_and_field(argument: str, reason: str) -> None:
    text = catalog_text(argument)
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, source="cat.yaml")
    line = next(n for n, text_line in enumerate(text.splitlines(), 1) if "host:" in text_line)
    problems = caught.value.problems
    assert [(p.file, p.line, p.field) for p in problems] == [("cat.yaml", line, "services.api.smoke[1].host[2]")]
    assert reason in problems[0].message


def test_timeout_belongs_to_host_checks_and_a_host_check_names_a_program() -> None:
    good = parse_catalog(catalog_text('"{url}/{{x}}"', ", timeout: 30s"))
    assert good.services["api"].smoke[1].host == ["curl", "-f", "{url}/{{x}}"]
    with pytest.raises(CatalogError, match="`timeout` applies to `host` smoke tests only"):
        parse_catalog(catalog_text("x").replace("http: /healthz", "http: /healthz, timeout: 5s"))
    with pytest.raises(CatalogError, match=r"exactly one of .* or `host: \[\.\.\.\]`"):
        parse_catalog(catalog_text("x", ", http: /x"))
    with pytest.raises(CatalogError, match="the host command is empty"):
        parse_catalog(catalog_text("x").replace("[curl, -f, x]", "[]"))


def test_aipair_is_this_aipair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`aipair` as the program is this interpreter with this package first on its path, whatever is on PATH
    or installed elsewhere."""
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    catalog = load_catalog(DEFAULT_CATALOG)
    (tmp_path / ".env").write_text("")
    environment = host_environment(catalog, "app-api", "1.1.0", address="127.0.0.1", workdir=tmp_path)
    assert aipair_command() == [PY, "-m", "aipair"]
    assert environment["PYTHONPATH"] == f"{ROOT / 'cli'}:/elsewhere"
    outcome = smoke(["aipair", "--version"], tmp_path, environment=environment)
    assert outcome.ok and "aipair " in outcome.detail, outcome
    where = smoke([PY, "-c", "import aipair; print(aipair.__file__)"], tmp_path, environment=environment)
    assert str(ROOT / "cli" / "aipair" / "__init__.py") in where.detail


def test_the_environment_has_the_throwaway_kestra_and_none_of_the_platforms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "KESTRA_URL": "https://platform-value.example",
        "KESTRA_USER": "platform-value-user",
        "KESTRA_PASSWORD": "platform-value-password",
        "KESTRA_API_TOKEN": "platform-value-token",
        "KESTRA_ADMIN_PASSWORD": "platform-value-secret",  # a catalog secret's name
        "POSTGRES_PASSWORD": "platform-value-db",
        "AIPAIR_CATALOG": "/srv/platform-value/catalog.yaml",
    }.items():
        monkeypatch.setenv(name, value)
    (tmp_path / ".env").write_text("KESTRA_ADMIN_PASSWORD=Throwaway1\n")
    catalog = load_catalog(DEFAULT_CATALOG)
    environment = host_environment(catalog, "kestra", "v2.0.0", address="172.30.0.9", workdir=tmp_path)
    assert environment["KESTRA_URL"] == "http://172.30.0.9:8080"
    assert environment["KESTRA_USER"] == "admin@aipair.local"
    assert environment["KESTRA_PASSWORD"] == "Throwaway1"
    assert not {"KESTRA_API_TOKEN", "KESTRA_ADMIN_PASSWORD", "POSTGRES_PASSWORD"} & set(environment)
    assert "platform-value" not in " ".join(environment.values())
    candidate = load_catalog(environment["AIPAIR_CATALOG"])
    assert Path(environment["AIPAIR_CATALOG"]).parent == tmp_path
    assert candidate.services["kestra"].image == "kestra/kestra:v2.0.0"
    assert candidate.services["app-api"] == catalog.services["app-api"]
    other = host_environment(catalog, "app-api", "1.1.0", address="172.30.0.9", workdir=tmp_path)
    assert not {"KESTRA_URL", "KESTRA_USER", "KESTRA_PASSWORD"} & set(other)


def test_the_default_catalogs_kestra_check_validates_the_candidates_flows_with_the_throwaway_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`aipair flows validate --server {url}` (catalog.yaml, kestra) against ContractKestra, a TEST DOUBLE of
    Kestra's REST API (a real Kestra server cannot run here, see tests/helpers/kestra_contract.py) at 2.0,
    which refuses ForEach: the flows must be those rendered for the candidate, not the platform's 1.0."""
    monkeypatch.setenv("KESTRA_PASSWORD", "platform-password")
    catalog = load_catalog(DEFAULT_CATALOG)
    test = next(t for t in catalog.services["kestra"].smoke if t.host is not None)
    assert test.host == ["aipair", "flows", "validate", "--server", "{url}"]
    (tmp_path / ".env").write_text("KESTRA_ADMIN_PASSWORD=Throwaway1\n")
    with ContractKestra(username="admin@aipair.local", password="Throwaway1", version="2.0.0") as server:
        port = int(server.url.rsplit(":", 1)[1])
        environment = host_environment(catalog, "kestra", "v2.0.0", address="127.0.0.1", workdir=tmp_path)
        outcome = run_smoke(engine_double(), "c", test, [Port(port=port)], environment=environment, workdir=tmp_path)
        assert outcome.ok, outcome
        assert ("POST", "/api/v1/main/flows/validate") in server.requests

        # the platform's own flows (Kestra 1.0: ForEach) are refused by 2.0: that is what it would have checked
        environment["AIPAIR_CATALOG"] = str(DEFAULT_CATALOG)
        old = run_smoke(engine_double(), "c", test, [Port(port=port)], environment=environment, workdir=tmp_path)
        assert not old.ok and "exit 1" in old.detail, old

    with ContractKestra(username="admin@aipair.local", password="platform-password", version="2.0.0") as server:
        port = int(server.url.rsplit(":", 1)[1])
        environment = host_environment(catalog, "kestra", "v2.0.0", address="127.0.0.1", workdir=tmp_path)
        refused = run_smoke(engine_double(), "c", test, [Port(port=port)], environment=environment, workdir=tmp_path)
        assert not refused.ok and "exit 3" in refused.detail, refused  # the platform's password is not sent


def test_a_group_members_catalog_has_every_member_at_its_candidate(tmp_path: Path) -> None:
    """Validated with its lockstep group (tracardi: api and gui), a member's AIPAIR_CATALOG names every member at
    the candidate image (what runs in the throw-away project), not the asked one alone beside a pinned other."""
    catalog = load_catalog(DEFAULT_CATALOG)
    api, gui = (name for name, svc in catalog.services.items() if svc.upgrade.group == "tracardi")
    (tmp_path / ".env").write_text("")
    candidates = {gui: candidate_image(catalog.services[gui].image, "9.9.0"),
                  api: candidate_image(catalog.services[api].image, "9.9.0")}  # fmt: skip
    environment = host_environment(catalog, gui, "9.9.0", address="127.0.0.1", workdir=tmp_path, candidates=candidates)
    candidate = load_catalog(environment["AIPAIR_CATALOG"])
    assert {name: candidate.services[name].image for name in candidates} == candidates
    assert candidate.services["kestra"] == catalog.services["kestra"]
