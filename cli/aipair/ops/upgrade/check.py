"""`aipair upgrade check`: for each service, the newest tag its policy allows, read from the registry."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ...catalog.images import ImageRef
from ...catalog.model import Catalog
from ...engines.files import write_json
from ...engines.registry import RegistryClient, RegistryError
from ...redact import redact_urls_in
from ..images import Inspector
from .assumptions import check_candidates
from .report import CheckReport, CheckRow
from .versions import Decision, decide, group_members, lockstep


async def check_services(
    catalog: Catalog, *, concurrency: int = 8, page_size: int = 1000, docker_config: Path | None = None
) -> list[CheckRow]:
    """One tags request per repository (shared by services using it), digests of the candidates."""
    services = {name: svc for name, svc in catalog.services.items() if svc.image_tag}
    refs = {name: ImageRef.parse(svc.image) for name, svc in services.items()}
    async with RegistryClient(concurrency=concurrency, page_size=page_size, docker_config=docker_config) as client:
        by_repository: dict[tuple[str, str], ImageRef] = {}  # services sharing a repository share its tags request
        for ref in refs.values():
            by_repository.setdefault((ref.registry, ref.path), ref)
        repositories = sorted(by_repository)
        results = await asyncio.gather(
            *(client.tags(by_repository[key]) for key in repositories), return_exceptions=True
        )
        tags_of = dict(zip(repositories, results, strict=True))
        rows: dict[str, CheckRow] = {}
        decisions: dict[str, Decision] = {}
        tags_by_service: dict[str, list[str]] = {}
        for name, svc in services.items():
            ref = refs[name]
            row = rows[name] = CheckRow(service=name, image=f"{ref.registry}/{ref.path}", current=ref.tag or "")
            found = tags_of[(ref.registry, ref.path)]
            if isinstance(found, BaseException):
                text = str(found) if isinstance(found, RegistryError) else f"{found.__class__.__name__}: {found}"
                row.error = redact_urls_in(text)  # an unexpected error's text may hold a URL with credentials
                continue
            tags_by_service[name] = found
            decisions[name] = decide(row.current, found, svc.upgrade)
        decided = lockstep(decisions, tags_by_service, {n: services[n].upgrade for n in decisions})
        for name, decision in decided.items():
            rows[name].candidate, rows[name].newest = decision.candidate, decision.newest
        wanted = [name for name, row in rows.items() if row.candidate]
        digests = await asyncio.gather(
            *(client.digest(refs[n], rows[n].candidate or "") for n in wanted), return_exceptions=True
        )
        for name, digest in zip(wanted, digests, strict=True):
            if isinstance(digest, BaseException):
                rows[name].error = redact_urls_in(str(digest))
            else:
                rows[name].digest = digest
    return list(rows.values())


def run_check(
    catalog: Catalog, *, concurrency: int = 8, page_size: int = 1000, docker_config: Path | None = None
) -> list[CheckRow]:
    return asyncio.run(
        check_services(catalog, concurrency=concurrency, page_size=page_size, docker_config=docker_config)
    )


def due_candidates(catalog: Catalog, rows: list[CheckRow]) -> list[dict[str, str]]:
    """What --candidates-file lists: {service, version} for each due service, but ONE entry for a lockstep group
    (its first member, with ``group``), because validating any member validates the whole group; and a group only
    when every member is due (a member rejected or unread holds the group back, as lockstep does)."""
    due = {r.service: r for r in rows if r.due}
    entries: list[dict[str, str]] = []
    seen: set[str] = set()
    for row in rows:
        if row.service not in due:
            continue
        group = catalog.service(row.service).upgrade.group
        if group is None:
            entries.append({"service": row.service, "version": row.candidate or ""})
            continue
        if group in seen:
            continue
        seen.add(group)
        members = group_members(catalog, row.service)
        if all(m in due for m in members):  # lockstep gave them one version (its tag text is the first's)
            entries.append({"service": row.service, "version": row.candidate or "", "group": group})
    return entries


def check(
    catalog: Catalog, *, concurrency: int = 8, candidates_file: Path | None = None, inspector: Inspector | None = None
) -> CheckReport:
    """Every service's candidate; ``candidates_file`` gets the due ones as [{service, version}] (CI matrices,
    the Kestra watch flow; one entry per lockstep group: due_candidates), an empty list when nothing is due. With an ``inspector`` each candidate's image is
    read first (ops/upgrade/assumptions.py): one that breaks an assumption is rejected, and not listed."""
    rows = run_check(catalog, concurrency=concurrency)
    wanted = {r.service: r.candidate for r in rows if r.candidate and not r.error}
    if inspector is not None and wanted:
        by_service = {r.service: r for r in rows}
        for name, found in check_candidates(catalog, wanted, inspector).items():
            by_service[name].assumptions = found
    if candidates_file is not None:
        write_json(candidates_file, due_candidates(catalog, rows), indent=None)
    return CheckReport(
        ok=not any(r.error for r in rows),
        due=sum(r.due for r in rows),
        rejected=sum(r.rejected for r in rows),
        services=rows,
    )
