"""`aipair upgrade apply` and `aipair rollback`: change one service's image in catalog.yaml.

ruamel.yaml finds where `services.<name>.image` stands; only that scalar is replaced in the text,
so every comment, blank line and flow map of the catalog stays byte for byte (a round-trip dump
would still re-indent). The edited text is validated before it is written, the phase outputs are
re-rendered, and each change is recorded so that `rollback` can undo it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

from pydantic import Field

from ...catalog import load_catalog, parse_catalog
from ...catalog.images import ImageRef
from ...catalog.model import Catalog
from ...engines.files import atomic_write, unified_diff, write_files, write_json
from ...engines.registry import RegistryClient
from ...errors import AipairError
from ...render.files import render_all
from ...results import Result
from ..callbacks import Deployer
from .validate import candidate_image

HISTORY = ".aipair/upgrade-history.json"


class ApplyError(AipairError):
    """The catalog cannot be changed as asked (nothing recorded to roll back, an image line not found)."""


class ApplyResult(Result):
    ok: bool = True  # False when the deploy's health gate failed and everything was put back
    service: str
    previous: str
    image: str
    catalog_diff: str = Field(serialization_alias="diff")
    changed_files: list[str] = Field(default_factory=list)
    deployed: bool | None = None
    rolled_back: bool = False


def replace_image(text: str, service: str, image: str) -> str:
    """``text`` with services.<service>.image set to ``image``; nothing else changes."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    document = yaml.load(text)
    node = document["services"][service]
    line, column = node.lc.value("image")
    lines = text.splitlines(keepends=True)
    current = lines[line]
    old = str(node["image"])
    quote = current[column] if current[column] in "\"'" else ""
    end = column + len(quote) + len(old) + len(quote)
    if current[column:end] != f"{quote}{old}{quote}":
        raise ApplyError(f"cannot locate the image of {service!r} on line {line + 1}; edit it by hand")
    lines[line] = current[:column] + f"{quote}{image}{quote}" + current[end:]
    return "".join(lines)


def _render_all(catalog: Catalog, root: Path, source: str) -> list[str]:
    return write_files(root, render_all(catalog, source=source).files)


def _history(root: Path) -> list[dict[str, str]]:
    path = root / HISTORY
    return json.loads(path.read_text()) if path.exists() else []


def change_image(path: Path, service: str, image: str, *, record: bool, deploy: Deployer | None = None) -> ApplyResult:
    """Write the new image into the catalog, re-render, optionally deploy (restoring everything on failure)."""
    root = path.parent
    before = path.read_text(encoding="utf-8")
    catalog = parse_catalog(before, source=str(path))
    previous = catalog.service(service).image
    after = replace_image(before, service, image)
    updated = parse_catalog(after, source=str(path))  # raises CatalogError: nothing is written
    diff = unified_diff(before, after, before=f"{path.name} (before)", after=f"{path.name} (after)")
    atomic_write(path, after, mode=path.stat().st_mode & 0o777)
    result = ApplyResult(
        service=service,
        previous=previous,
        image=image,
        catalog_diff=diff,
        changed_files=_render_all(updated, root, path.name),
    )
    if deploy is not None:
        result.deployed = deploy(updated)
        if not result.deployed:
            atomic_write(path, before, mode=path.stat().st_mode & 0o777)  # the catalog goes back too
            _render_all(catalog, root, path.name)
            result.rolled_back = True
            result.ok = False
            return result
    if record:
        history = _history(root)
        history.append(
            {
                "service": service,
                "from": previous,
                "to": image,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
        write_json(root / HISTORY, history)
    return result


def pinned_image(catalog: Catalog, service: str, version: str) -> str:
    """repository:version@sha256:… as the registry reports it now."""
    image = candidate_image(catalog.service(service).image, version)

    async def digest() -> str:
        async with RegistryClient() as client:
            return await client.digest(ImageRef.parse(image), version)

    return f"{image}@{asyncio.run(digest())}"


def apply(path: Path, service: str, version: str, *, deploy: Deployer | None = None) -> ApplyResult:
    """`aipair upgrade apply`: pin the registry's digest of ``version``, re-render, optionally deploy."""
    catalog = load_catalog(path)
    image = pinned_image(catalog, service, version) if service in catalog.services else version
    return change_image(path, service, image, record=True, deploy=deploy)


def rollback_target(root: Path, service: str) -> tuple[str, list[dict[str, str]]]:
    """The image the last recorded apply replaced, and the history without that entry."""
    history = _history(root)
    for index in range(len(history) - 1, -1, -1):
        if history[index]["service"] == service:
            return history[index]["from"], history[:index] + history[index + 1 :]
    raise ApplyError(f"no recorded upgrade of {service!r} to roll back (aipair upgrade apply records them)")


def rollback(path: Path, service: str, *, deploy: Deployer | None = None) -> ApplyResult:
    """`aipair rollback`: the image the last recorded apply replaced, back in the catalog."""
    load_catalog(path)
    target, remaining = rollback_target(path.parent, service)
    result = change_image(path, service, target, record=False, deploy=deploy)
    if not result.rolled_back:
        write_json(path.parent / HISTORY, remaining)
    return result
