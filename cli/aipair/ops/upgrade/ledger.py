"""The upgrade ledger: `upgrade-ledger.jsonl` beside the catalog, one record for every `upgrade validate` run
and every `upgrade apply --unvalidated`, so that `upgrade apply` pins only a digest that passed validation in
the same catalog context, and the repository's history shows who attested what.

Why JSON Lines: a record is one line, appended with one O_APPEND write under the catalog's lock and fsynced
(engines/files.append_durably), so a record is either there or, after a crash mid-write, a damaged last line
that is reported (file and line), never a half-rewritten file; nothing is ever rewritten. In git, two branches
that each appended records differ only in added lines, never inside one record; records are found by what they
say, not where they stand, so `upgrade-ledger.jsonl merge=union` in .gitattributes merges them without a
conflict.

The catalog context (``catalog`` in a record) is the sha256 of the catalog's text, byte for byte (comments,
layout and line ends included), with the image scalar of each service the record is about replaced by a fixed
marker, where `upgrade apply` itself writes (apply.replace_image, so quotes and the rest of the line stay). The
apply changes exactly that scalar, so the context of the catalog before and after the apply is the same, and a
validation still counts for the catalog it produced; any other change (a dependency's image, an environment
variable, a health check, a comment) is a new context that needs a new validation, because the candidate was
validated against what the catalog said then.

A lockstep group (``upgrade.group``) is validated and applied together, so its record names every member (each
with its tag and digest) and its context is over all of them; `upgrade apply` of a member asks for one passing
record that covers every member at its digest (find_passing_all): members validated one at a time do not count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from ... import __version__
from ...engines.files import append_durably
from ...engines.locks import locked
from ...errors import UsageError
from ...render.kestra import LEDGER_FILE

LEDGER = LEDGER_FILE  # beside the catalog; the Kestra flows commit it under this name
MARKER = "<image attested in upgrade-ledger.jsonl>"  # what the context hash sees in place of the image
SHA256 = r"^sha256:[0-9a-f]{64}$"

Verdict = Literal["passed", "failed", "unvalidated"]


class LedgerError(UsageError):
    """The ledger cannot be read (a damaged line) or has no passing record for what is asked: exit 2."""


class Attested(BaseModel):
    """One service of a record: the candidate's tag and the registry's digest of it when it was recorded."""

    name: str
    tag: str
    digest: str = Field(pattern=SHA256)


class Record(BaseModel):
    """One line of the ledger. ``stage``: where a validation ended (``passed``, ``health``, ``smoke``,
    ``image``, ``flows``, ``digest``), ``apply`` for an unvalidated apply. ``report``: sha256 of the JSON
    report `upgrade validate --report` writes (None for an apply)."""

    services: list[Attested] = Field(min_length=1)
    catalog: str = Field(pattern=SHA256)
    aipair: str
    verdict: Verdict
    stage: str
    report: str | None = Field(default=None, pattern=SHA256)
    at: str

    def line(self) -> str:
        return self.model_dump_json() + "\n"

    def covers(self, service: str, digest: str) -> bool:
        return any(s.name == service and s.digest == digest for s in self.services)

    def covers_all(self, pins: Mapping[str, str]) -> bool:
        """Every service of ``pins`` (name → digest) at its digest, in this one record: a lockstep group is
        attested only by a record that ran its members together."""
        return all(self.covers(service, digest) for service, digest in pins.items())


def ledger_path(catalog_path: Path) -> Path:
    """Where the ledger of ``catalog_path`` lives: beside it, so it is committed with it."""
    return catalog_path.parent / LEDGER


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def context_hash(text: str, services: Iterable[str]) -> str:
    """The catalog context of ``text`` for a record about ``services`` (the rule: the module's docstring).

    ApplyError when a service's image scalar cannot be located (the same case in which apply cannot change it)."""
    from .apply import replace_image  # apply imports this module: imported here, when both are loaded

    for service in sorted(set(services)):
        text = replace_image(text, service, MARKER)
    return sha256(text.encode("utf-8"))


def catalog_text(catalog_path: Path) -> str:
    """The catalog as apply reads it: bytes decoded, so CRLF line ends count as they are."""
    try:
        return catalog_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise LedgerError(f"{catalog_path} is not UTF-8 text; nothing was changed") from None


def report_hash(payload: object) -> str:
    """sha256 of the JSON report as engines/files.write_json writes it (the file `--report` names)."""
    return sha256((json.dumps(payload, indent=2) + "\n").encode("utf-8"))


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def read(path: Path) -> list[Record]:
    """Every record of the ledger at ``path`` ([] when there is none); LedgerError naming file and line for
    the first line that is not a record (a hand edit, a cut-off write, a merge conflict marker)."""
    return _parse(_bytes(path), path)


def _bytes(path: Path) -> bytes:
    """The ledger's bytes; none when there is no ledger yet."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _parse(raw: bytes, path: Path) -> list[Record]:
    """read's work on the ledger's bytes ``raw`` (``path``: where they were read, for the message)."""
    records = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(Record.model_validate_json(line))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            reason = f"{where}: {problem['msg']}" if where else problem["msg"]
            raise LedgerError(
                f"{path}:{number}: not a ledger record ({reason[:200]}); nothing was written. The ledger is "
                f"append-only: put the line back as it was committed (git diff {path.name}), or, when it is a "
                "cut-off last line, remove that line and validate again"
            ) from None
    return records


def append(catalog_path: Path, record: Record) -> None:
    """Add ``record`` to the ledger of ``catalog_path`` under the catalog's lock; the whole ledger is read first,
    so that a damaged one is reported and nothing is added to it."""
    path = ledger_path(catalog_path)
    with locked(catalog_path):
        raw = _bytes(path)  # read once: parsed first (a damaged ledger gets nothing added), then its end seen
        _parse(raw, path)
        text = record.line()
        if raw and not raw.endswith(b"\n"):
            text = "\n" + text  # a last line without its newline (an editor's doing) stays a line of its own
        append_durably(path, text)


def find_passing(records: list[Record], service: str, digest: str, context: str) -> Record | None:
    """The newest passing validation of ``service`` at exactly ``digest`` in catalog context ``context``."""
    return find_passing_all(records, {service: digest}, context)


def find_passing_all(records: list[Record], pins: Mapping[str, str], context: str) -> Record | None:
    """The newest passing validation in catalog context ``context`` of every service of ``pins`` (name →
    digest) at its digest, all in the same record."""
    for record in reversed(records):
        if record.verdict == "passed" and record.catalog == context and record.covers_all(pins):
            return record
    return None


def why_missing(records: list[Record], service: str, tag: str, digest: str, context: str) -> str:
    """What the ledger has instead of the record asked for: the message's middle part."""
    mine = [r for r in records if any(s.name == service for s in r.services) and r.verdict != "unvalidated"]
    same_digest = [r for r in mine if r.covers(service, digest)]
    if any(r.catalog == context for r in same_digest):
        return "its validations in the ledger did not pass"
    if any(r.verdict == "passed" for r in same_digest):
        return "it passed for another catalog: the catalog has changed since (any change but this image counts)"
    same_tag = [
        s.digest for r in mine if r.verdict == "passed" for s in r.services if s.name == service and s.tag == tag
    ]
    if same_tag:
        return (
            f"a validation of {tag} passed for digest {same_tag[-1]}, which is not the one the registry serves "
            "now: the tag was pushed again since"
        )
    return "the ledger has no validation of it"


def why_missing_all(records: list[Record], pins: Mapping[str, str], tag: str, context: str) -> str:
    """why_missing for a lockstep group: a passing record of some members alone is named as such."""
    if len(pins) == 1:
        [(service, digest)] = pins.items()
        return why_missing(records, service, tag, digest, context)
    partial = [
        r
        for r in records
        if r.verdict == "passed" and any(r.covers(s, d) for s, d in pins.items()) and not r.covers_all(pins)
    ]
    if partial:
        alone = sorted({s.name for s in partial[-1].services if s.name in pins})
        return (
            f"its passing record attests {', '.join(alone)} without the rest of the group: the members "
            f"{', '.join(pins)} must be validated together, in one record"
        )
    service = next(iter(pins))
    return why_missing(records, service, tag, pins[service], context)


def attest(catalog_path: Path, service: str, tag: str, digest: str, *, unvalidated: bool) -> tuple[Record | None, str]:
    """attest_all for one service."""
    return attest_all(catalog_path, {service: digest}, tag, unvalidated=unvalidated)


def attest_all(
    catalog_path: Path, pins: Mapping[str, str], tag: str, *, unvalidated: bool
) -> tuple[Record | None, str]:
    """The passing record that allows `upgrade apply` to pin every digest of ``pins`` (service → digest: one
    service, or the members of its lockstep group), and the catalog context (over all of them) it was looked
    for in. None for the record when there is none and ``unvalidated``; else LedgerError (exit 2) saying which
    record is missing, why, and how to get one. A damaged ledger is an error either way."""
    path = ledger_path(catalog_path)
    records = read(path)
    context = context_hash(catalog_text(catalog_path), pins)
    found = find_passing_all(records, pins, context)
    if found is None and not unvalidated:
        first = next(iter(pins))
        what = (
            f"{first} {tag} ({pins[first]})"
            if len(pins) == 1
            else f"the group {', '.join(pins)} at {tag} ({', '.join(f'{s} {d}' for s, d in pins.items())})"
        )
        raise LedgerError(
            f"{what} has no passing validation for this catalog in {path}: "
            f"{why_missing_all(records, pins, tag, context)}; nothing was changed. Validate it first "
            f"(`aipair upgrade validate {first} {tag} --catalog {catalog_path}`), or pass --unvalidated to apply "
            "it anyway (the ledger then records an unvalidated apply)"
        )
    return found, context


def validation_record(
    *, service: str, tag: str, digest: str, context: str, passed: bool, stage: str, report: str
) -> Record:
    return group_validation_record(
        pins={service: digest}, tag=tag, context=context, passed=passed, stage=stage, report=report
    )


def _tag(tag: str | Mapping[str, str], service: str) -> str:
    return tag if isinstance(tag, str) else tag[service]


def group_validation_record(
    *, pins: Mapping[str, str], tag: str | Mapping[str, str], context: str, passed: bool, stage: str, report: str
) -> Record:
    """One validation of every service of ``pins`` (service → digest) at ``tag`` (one for all, or each member's,
    service → tag), run together."""
    return Record(
        services=[Attested(name=name, tag=_tag(tag, name), digest=digest) for name, digest in pins.items()],
        catalog=context,
        aipair=__version__,
        verdict="passed" if passed else "failed",
        stage=stage,
        report=report,
        at=now(),
    )


def unvalidated_record(*, service: str, tag: str, digest: str, context: str) -> Record:
    return group_unvalidated_record(pins={service: digest}, tag=tag, context=context)


def group_unvalidated_record(*, pins: Mapping[str, str], tag: str | Mapping[str, str], context: str) -> Record:
    """One `upgrade apply --unvalidated` of every service of ``pins`` (a lockstep group is applied together)."""
    return Record(
        services=[Attested(name=name, tag=_tag(tag, name), digest=digest) for name, digest in pins.items()],
        catalog=context,
        aipair=__version__,
        verdict="unvalidated",
        stage="apply",
        at=now(),
    )
