"""`aipair upgrade check`: for each service, the newest tag its policy allows, read from the registry."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog.model import Catalog
from ..engines.registry import ImageRef, RegistryClient, RegistryError
from .versions import Decision, decide, lockstep


@dataclass
class CheckRow:
    service: str
    image: str
    current: str
    candidate: str | None = None
    newest: str | None = None
    digest: str | None = None
    error: str | None = None

    @property
    def due(self) -> bool:
        """A candidate the policy allows, read without error: what `upgrade check` exits 10 for."""
        return bool(self.candidate) and not self.error

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "image": self.image, "current": self.current, "candidate": self.candidate,
                "newest": self.newest, "digest": self.digest, "error": self.error}


async def check_catalog(catalog: Catalog, *, concurrency: int = 8, page_size: int = 1000,
                        docker_config: Path | None = None) -> list[CheckRow]:
    """One tags request per repository (shared by services using it), digests of the candidates."""
    services = {name: svc for name, svc in catalog.services.items() if svc.image_tag}
    refs = {name: ImageRef.parse(svc.image) for name, svc in services.items()}
    async with RegistryClient(concurrency=concurrency, page_size=page_size, docker_config=docker_config) as client:
        repositories = sorted({(r.registry, r.repository) for r in refs.values()})
        results = await asyncio.gather(*(client.tags(ImageRef(reg, repo, None)) for reg, repo in repositories),
                                       return_exceptions=True)
        tags_of = dict(zip(repositories, results))
        rows: dict[str, CheckRow] = {}
        decisions: dict[str, Decision] = {}
        tags_by_service: dict[str, list[str]] = {}
        for name, svc in services.items():
            ref = refs[name]
            row = rows[name] = CheckRow(name, f"{ref.registry}/{ref.repository}", ref.tag or "")
            found = tags_of[(ref.registry, ref.repository)]
            if isinstance(found, BaseException):
                row.error = str(found) if isinstance(found, RegistryError) else f"{found.__class__.__name__}: {found}"
                continue
            tags_by_service[name] = found
            decisions[name] = decide(row.current, found, svc.upgrade)
        decided = lockstep(decisions, tags_by_service, {n: services[n].upgrade for n in decisions})
        for name, decision in decided.items():
            rows[name].candidate, rows[name].newest = decision.candidate, decision.newest
        wanted = [name for name, row in rows.items() if row.candidate]
        digests = await asyncio.gather(*(client.digest(refs[n], rows[n].candidate or "") for n in wanted),
                                       return_exceptions=True)
        for name, digest in zip(wanted, digests):
            if isinstance(digest, BaseException):
                rows[name].error = str(digest)
            else:
                rows[name].digest = digest
    return list(rows.values())


def run_check(catalog: Catalog, **options: Any) -> list[CheckRow]:
    return asyncio.run(check_catalog(catalog, **options))
