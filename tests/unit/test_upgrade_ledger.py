"""The upgrade ledger (ops/upgrade/ledger.py) on real files: the catalog-context hash rule, append and find,
a damaged line, a tag pushed again after its validation. No registry, no engine: the digests are given."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from aipair.catalog import load_catalog
from aipair.engines.files import write_json
from aipair.errors import UsageError
from aipair.ops.upgrade import ledger
from aipair.ops.upgrade.apply import replace_image
from aipair.render.kestra import LEDGER_FILE, render_kestra_flows

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
REPORT = "sha256:" + "c" * 64


def catalog_text(*, flow: bool, quote: str = "", web: str = "r.example/aipair/web:1.0.0") -> str:
    """web (flow or block map, its image plain or quoted) and cache, with comments."""
    if flow:
        block = (
            f"  web: {{ layer: application, image: {quote}{web}{quote}, ports: [{{port: 8000}}],"
            " health: {type: tcp, port: 8000} }  # flow style\n"
        )
    else:
        block = (
            "  web:  # block style\n"
            "    layer: application\n"
            f"    image: {quote}{web}{quote}  # pinned by hand\n"
            "    ports: [{port: 8000}]\n"
            "    health: {type: tcp, port: 8000}\n"
        )
    return (
        "# hand-written catalog\n"
        "version: 1\n"
        "project: {name: up, domain: up.example.com, tls: {acme_email: o@up.example.com}}\n"
        "services:\n"
        f"{block}"
        "  cache:\n"
        "    layer: data\n"
        "    kind: stateful\n"
        "    image: r.example/aipair/cache:1.0.0\n"
        "    ports: [{port: 6379}]\n"
        "    health: {type: tcp, port: 6379}\n"
    )


LAYOUTS = {"flow": (True, ""), "flow-quoted": (True, '"'), "block": (False, ""), "block-quoted": (False, "'")}


# --- the context hash ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_context_hash_ignores_exactly_the_image_apply_changes(layout: str) -> None:
    flow, quote = LAYOUTS[layout]
    before = catalog_text(flow=flow, quote=quote)
    context = ledger.context_hash(before, ["web"])
    pinned = replace_image(before, "web", f"r.example/aipair/web:1.1.0@{A}")  # what `upgrade apply` writes
    assert pinned != before and ledger.context_hash(pinned, ["web"]) == context
    # anything else is another context: the candidate was validated against what the catalog said then
    others = {
        "another service's image": replace_image(before, "cache", "r.example/aipair/cache:1.0.1"),
        "a comment": before.replace("# hand-written catalog", "# edited catalog"),
        "a health check": before.replace("port: 6379}", "port: 6380}"),
        "line ends": before.replace("\n", "\r\n"),
    }
    for what, text in others.items():
        assert ledger.context_hash(text, ["web"]) != context, what
    # the context of a record about cache ignores cache's image, not web's
    assert ledger.context_hash(pinned, ["cache"]) != ledger.context_hash(before, ["cache"])
    assert context.startswith("sha256:") and len(context) == 71


# --- append and find ----------------------------------------------------------------------------------------


def _catalog(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text(flow=False))
    load_catalog(path)  # a catalog aipair accepts
    return path, ledger.context_hash(path.read_text(), ["web"])


def test_records_are_appended_as_json_lines_never_rewritten_and_found_by_service_digest_and_context(
    tmp_path: Path,
) -> None:
    path, context = _catalog(tmp_path)
    failed = ledger.validation_record(
        service="web", tag="1.1.0", digest=A, context=context, passed=False, stage="health", report=REPORT
    )
    passed = ledger.validation_record(
        service="web", tag="1.1.0", digest=A, context=context, passed=True, stage="passed", report=REPORT
    )
    ledger.append(path, failed)
    first = (tmp_path / "upgrade-ledger.jsonl").read_bytes()
    assert ledger.find_passing(ledger.read(tmp_path / LEDGER_FILE), "web", A, context) is None  # failed only
    ledger.append(path, passed)
    written = (tmp_path / "upgrade-ledger.jsonl").read_bytes()
    assert written.startswith(first)  # appended, the earlier record byte for byte as it was
    lines = written.decode().splitlines()
    assert len(lines) == 2 and written.endswith(b"\n")
    record = json.loads(lines[1])
    assert list(record) == ["services", "catalog", "aipair", "verdict", "stage", "report", "at"]
    assert record["services"] == [{"name": "web", "tag": "1.1.0", "digest": A}]
    assert (record["verdict"], record["stage"], record["catalog"], record["report"]) == (
        "passed",
        "passed",
        context,
        REPORT,
    )
    assert record["at"].endswith("+00:00") and record["aipair"]
    assert oct((tmp_path / LEDGER_FILE).stat().st_mode & 0o777) == oct(0o644 & ~_umask())

    records = ledger.read(tmp_path / LEDGER_FILE)
    assert ledger.find_passing(records, "web", A, context) == records[1]
    assert ledger.find_passing(records, "cache", A, context) is None  # another service
    assert ledger.find_passing(records, "web", A, "sha256:" + "d" * 64) is None  # another catalog context
    found, seen = ledger.attest(path, "web", "1.1.0", A, unvalidated=False)
    assert found == records[1] and seen == context


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_no_record_is_a_usage_error_that_says_which_and_how_to_get_one(tmp_path: Path) -> None:
    path, context = _catalog(tmp_path)
    with pytest.raises(ledger.LedgerError) as missing:
        ledger.attest(path, "web", "1.1.0", A, unvalidated=False)
    message = str(missing.value)
    assert f"web 1.1.0 ({A}) has no passing validation" in message
    assert f"aipair upgrade validate web 1.1.0 --catalog {path}" in message and "--unvalidated" in message
    assert ledger.attest(path, "web", "1.1.0", A, unvalidated=True) == (None, context)
    assert not (tmp_path / LEDGER_FILE).exists()  # looking writes nothing

    # passed, but for the catalog as it was before another change
    ledger.append(path, ledger.validation_record(
        service="web", tag="1.1.0", digest=A, context=context, passed=True, stage="passed", report=REPORT
    ))  # fmt: skip
    path.write_text(path.read_text().replace("port: 6379}", "port: 6380}"))
    with pytest.raises(ledger.LedgerError, match="the catalog has changed since"):
        ledger.attest(path, "web", "1.1.0", A, unvalidated=False)


def test_a_passing_record_for_another_digest_of_the_same_tag_does_not_count(tmp_path: Path) -> None:
    """The tag 1.1.0 was validated as digest A, then pushed again as B: B has not been validated."""
    path, context = _catalog(tmp_path)
    ledger.append(path, ledger.validation_record(
        service="web", tag="1.1.0", digest=A, context=context, passed=True, stage="passed", report=REPORT
    ))  # fmt: skip
    with pytest.raises(ledger.LedgerError) as refused:
        ledger.attest(path, "web", "1.1.0", B, unvalidated=False)
    assert f"passed for digest {A}" in str(refused.value) and "pushed again" in str(refused.value)
    # an unvalidated apply of B is not a validation of B either
    ledger.append(path, ledger.unvalidated_record(service="web", tag="1.1.0", digest=B, context=context))
    with pytest.raises(ledger.LedgerError):
        ledger.attest(path, "web", "1.1.0", B, unvalidated=False)
    assert [r.verdict for r in ledger.read(tmp_path / LEDGER_FILE)] == ["passed", "unvalidated"]


@pytest.mark.parametrize(
    ("damage", "line"),
    [
        ('{"services": [{"name": "web", "tag": "1.1.0", "digest": "sha256:a', 2),  # a write cut off
        ("<<<<<<< HEAD", 2),  # a merge conflict left in
        ('{"services": [], "catalog": "x"}', 2),  # JSON, but not a record
        (None, 1),  # a digest edited by hand into something that is not one
    ],
)
def test_a_damaged_line_is_reported_with_file_and_line_and_nothing_is_written(
    tmp_path: Path, damage: str | None, line: int
) -> None:
    path, context = _catalog(tmp_path)
    good = ledger.validation_record(
        service="web", tag="1.1.0", digest=A, context=context, passed=True, stage="passed", report=REPORT
    )
    ledger.append(path, good)
    target = tmp_path / LEDGER_FILE
    if damage is None:
        target.write_text(target.read_text().replace(A, "sha256:ABC"))
    else:
        target.write_text(target.read_text() + damage + "\n")
    before = target.read_bytes()
    for attempt in (
        lambda: ledger.append(path, good),
        lambda: ledger.attest(path, "web", "1.1.0", A, unvalidated=False),
        lambda: ledger.attest(path, "web", "1.1.0", A, unvalidated=True),  # --unvalidated does not skip it
    ):
        with pytest.raises(ledger.LedgerError) as damaged:
            attempt()
        assert str(damaged.value).startswith(f"{target}:{line}: not a ledger record"), str(damaged.value)
        assert "nothing was written" in str(damaged.value)
        assert target.read_bytes() == before
    assert isinstance(damaged.value, UsageError)  # exit 2


def test_a_last_line_without_its_newline_stays_a_line_of_its_own(tmp_path: Path) -> None:
    path, context = _catalog(tmp_path)
    record = ledger.unvalidated_record(service="web", tag="1.1.0", digest=A, context=context)
    (tmp_path / LEDGER_FILE).write_text(record.line().rstrip("\n"))  # as an editor may save it
    ledger.append(path, record)
    assert len(ledger.read(tmp_path / LEDGER_FILE)) == 2


def test_the_report_hash_is_the_sha256_of_the_report_file(tmp_path: Path) -> None:
    payload = {"service": "web", "ok": True, "smoke": [{"name": "é", "ok": True}]}
    write_json(tmp_path / "report.json", payload)
    assert (
        ledger.report_hash(payload) == "sha256:" + hashlib.sha256((tmp_path / "report.json").read_bytes()).hexdigest()
    )


# --- the Kestra proposal ------------------------------------------------------------------------------------


def test_the_kestra_flows_carry_the_ledger_beside_the_catalog_into_the_proposal(tmp_path: Path) -> None:
    assert LEDGER_FILE == ledger.LEDGER
    path = tmp_path / "catalog.yaml"
    path.write_text(
        catalog_text(flow=False).replace(
            "project: {name: up,",
            "project: {kestra: {repository: /srv/platform.git, catalog_path: platform/catalog.yaml}, name: up,",
        )
    )
    flow = render_kestra_flows(load_catalog(path))["validate-candidate"]
    validate = flow["tasks"][0]
    propose = flow["tasks"][1]["then"][0]
    assert validate["env"]["AIPAIR_LEDGER"] == propose["env"]["AIPAIR_LEDGER"] == "repo/platform/upgrade-ledger.jsonl"
    assert propose["env"]["AIPAIR_ATTESTATION"] == "{{ outputs.validate.vars.attestation }}"
    assert '"attestation":"' in validate["commands"][-1]
    commands = propose["commands"]
    appended = next(i for i, c in enumerate(commands) if "base64 -d >>" in c)
    applied = next(i for i, c in enumerate(commands) if c.startswith("aipair upgrade apply"))
    committed = next(i for i, c in enumerate(commands) if " commit " in c)
    assert appended < applied < committed
    assert 'git -C repo add -- "${AIPAIR_LEDGER#repo/}"' in commands[applied:committed]
