"""`aipair upgrade apply` and `aipair rollback`: change one service's image in catalog.yaml (or the images of
every member of its lockstep group, in one edit).

ruamel.yaml finds where `services.<name>.image` stands; only that scalar is replaced in the text,
so every comment, blank line and flow map of the catalog stays byte for byte (a round-trip dump
would still re-indent). The edited text is validated before it is written, the phase outputs are
re-rendered, and each change is recorded so that `rollback` can undo it.

What comes from outside is checked before it reaches the text: the tag must be a Docker tag, the
registry's digest `sha256:` and 64 lowercase hex digits, and the edited catalog, parsed again, must
differ from the original in that one scalar (one per member of a lockstep group) and nothing else. The whole read-change-write-record
runs under the catalog's lock, so concurrent runs queue instead of losing each other's change. With
``--deploy``, any failure of the deploy (a failed health gate, an exception, Ctrl-C) puts the
catalog, the rendered files and the history back as they were, byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from ...catalog import load_catalog, parse_catalog
from ...catalog.images import ImageRef
from ...catalog.model import Catalog
from ...catalog.yamlpos import YamlProblem, load_positioned
from ...engines.files import atomic_write, unified_diff, write_files, write_json
from ...engines.locks import locked
from ...engines.registry import RegistryClient
from ...errors import AipairError
from ...render.files import render_all
from ...results import Result
from ..callbacks import Deployer
from . import ledger
from .versions import candidate_image, group_tags

HISTORY = ".aipair/upgrade-history.json"


class ApplyError(AipairError):
    """The catalog cannot be changed as asked (nothing recorded to roll back, an image line not found)."""


class MemberChange(Result):
    """One service's image change in an apply or rollback."""

    service: str
    previous: str
    image: str


class ApplyResult(Result):
    ok: bool = True  # False when the deploy's health gate failed and everything was put back
    service: str
    previous: str
    image: str
    group: str | None = None  # the service's upgrade.group: every member changed together
    members: list[MemberChange] = Field(default_factory=list)  # every service changed (the service first)
    catalog_diff: str = Field(serialization_alias="diff")
    changed_files: list[str] = Field(default_factory=list)
    deployed: bool | None = None
    rolled_back: bool = False


def replace_image(text: str, service: str, image: str) -> str:
    """``text`` with services.<service>.image set to ``image``; nothing else changes."""
    return replace_images(text, {service: image})


def replace_images(text: str, images: Mapping[str, str]) -> str:
    """``text`` with services.<name>.image set to ``image`` for each of ``images``; nothing else changes."""
    from ruamel.yaml import YAML

    for service, image in images.items():  # one scalar at a time: each edit keeps the others' positions valid
        document = YAML(typ="rt").load(text)
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
        text = "".join(lines)
    return text


def only_image_changed(before: str, after: str, service: str, image: str) -> None:
    """only_images_changed for one service."""
    only_images_changed(before, after, {service: image})


def only_images_changed(before: str, after: str, images: Mapping[str, str]) -> None:
    """Defence in depth after replace_images: both texts parsed as the loader parses them must be equal
    except ``services.<name>.image`` of each of ``images``, which must be its image exactly. ApplyError otherwise."""
    try:
        old, _ = load_positioned(before)
        new, _ = load_positioned(after)
        same_scalar = all(new["services"][service]["image"] == image for service, image in images.items())
        restored = copy.deepcopy(new)
        for service in images:
            restored["services"][service]["image"] = old["services"][service]["image"]
        same_rest = restored == old
    except (YamlProblem, KeyError, TypeError):
        same_scalar = same_rest = False
    if not (same_scalar and same_rest):
        what = ", ".join(f"{service!r} to {image[:200]!r}" for service, image in images.items())
        raise ApplyError(
            f"setting the image of {what} would change more than the image in the catalog; "
            "nothing was written: edit the image line by hand"
        )


def _history(root: Path) -> list[dict[str, str]]:
    """The recorded upgrades; ApplyError (not a traceback) when the file is not what apply writes."""
    path = root / HISTORY
    if not path.exists():
        return []
    try:
        history = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplyError(
            f"{path}: not JSON ({exc}); fix or remove it (it only records upgrades for rollback)"
        ) from None
    keys = ("service", "from", "to")
    if not isinstance(history, list) or not all(
        isinstance(entry, dict) and all(isinstance(entry.get(key), str) for key in keys) for entry in history
    ):
        raise ApplyError(f"{path}: expected a list of {{service, from, to, at}} entries; fix or remove it")
    return history


def _recorder(path: Path, images: Mapping[str, str], group: str | None = None) -> History:
    """The history with this change appended, one entry per service (read when it is written, under the
    catalog's lock). The entries of a group share ``group`` and ``change``, so rollback undoes them together."""

    def history(previous: Mapping[str, str]) -> list[dict[str, str]]:
        at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        together = {"group": group, "change": secrets.token_hex(8)} if group is not None else {}
        entries = [
            {"service": service, "from": previous[service], "to": image, "at": at, **together}
            for service, image in images.items()
        ]
        return [*_history(path.parent), *entries]

    return history


History = Callable[[Mapping[str, str]], list[dict[str, str]]]  # the history to write, given the images replaced


@dataclass
class Saved:
    """Files as they were before a change: text and mode, None for one that did not exist; and the folders
    that did not exist either."""

    files: dict[Path, tuple[str, int] | None]
    folders: list[Path]

    @classmethod
    def of(cls, paths: list[Path]) -> Saved:
        files: dict[Path, tuple[str, int] | None] = {}
        for path in paths:
            try:
                files[path] = (path.read_bytes().decode("utf-8"), path.stat().st_mode & 0o777)
            except FileNotFoundError:
                files[path] = None
            except UnicodeDecodeError:
                raise ApplyError(f"{path} is not UTF-8 text; nothing was changed: fix or remove it first") from None
        folders = {folder for path in paths for folder in path.parents if not folder.exists()}
        return cls(files, sorted(folders, key=lambda folder: len(folder.parts), reverse=True))

    def put_back(self) -> None:
        """Every file as it was, byte for byte; new files and the new folders made for them removed."""
        for path, content in self.files.items():
            if content is None:
                path.unlink(missing_ok=True)
            elif not path.exists() or path.read_bytes() != content[0].encode("utf-8"):
                atomic_write(path, content[0], mode=content[1])
        for folder in self.folders:  # deepest first
            with contextlib.suppress(OSError):  # not empty or already gone: leave it
                folder.rmdir()


def _say_put_back(exc: BaseException, path: Path) -> None:
    """Add to an AipairError's message that nothing stayed changed (the CLI shows str(exc))."""
    if isinstance(exc, AipairError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        exc.args = (
            f"{exc.args[0]}\n({path.name}, the rendered files and the upgrade history were put back as they were)",
        )


def _change(
    path: Path, service: str, images: Mapping[str, str], *, history: History | None, deploy: Deployer | None
) -> ApplyResult:
    """change_image's work for every service of ``images`` (``service`` and the rest of its group) in one edit;
    the caller holds the catalog's lock. ``history``: the new upgrade history for the given previous images, or
    None to leave it alone."""
    for name, image in images.items():
        try:
            ImageRef.parse(image)
        except ValueError as exc:
            raise ApplyError(f"{name}: {exc}; nothing was changed") from None
    root = path.parent
    try:
        before = path.read_bytes().decode("utf-8")  # bytes, so that CRLF line ends stay as they are
    except UnicodeDecodeError:
        raise ApplyError(f"{path} is not UTF-8 text; nothing was changed") from None
    catalog = parse_catalog(before, source=str(path))
    previous = {name: catalog.service(name).image for name in images}
    after = replace_images(before, images)
    only_images_changed(before, after, images)
    updated = parse_catalog(after, source=str(path))  # raises CatalogError: nothing is written
    diff = unified_diff(before, after, before=f"{path.name} (before)", after=f"{path.name} (after)")
    rendered = render_all(updated, source=path.name).files
    saved = Saved.of([path, *(root / relative for relative in rendered), root / HISTORY])
    try:
        atomic_write(path, after, mode=path.stat().st_mode & 0o777)
        result = ApplyResult(
            service=service,
            previous=previous[service],
            image=images[service],
            group=catalog.service(service).upgrade.group if len(images) > 1 else None,
            members=[MemberChange(service=n, previous=previous[n], image=i) for n, i in images.items()],
            catalog_diff=diff,
            changed_files=write_files(root, rendered),
        )
        if history is not None:
            write_json(root / HISTORY, history(previous))  # before the deploy: a change is never unrecorded
        if deploy is not None:
            result.deployed = deploy(updated)
            if not result.deployed:
                saved.put_back()  # the deploy rolled the containers back; the files go back too
                result.rolled_back = True
                result.ok = False
    except BaseException as exc:  # also Ctrl-C: the files must not keep a change that was not rolled out
        saved.put_back()
        _say_put_back(exc, path)
        raise
    return result


def change_image(path: Path, service: str, image: str, *, record: bool, deploy: Deployer | None = None) -> ApplyResult:
    """Write the new image into the catalog, re-render, optionally record and deploy; any failure of the
    deploy puts every file back as it was. Holds the catalog's lock throughout."""
    with locked(path):
        images = {service: image}
        return _change(path, service, images, history=_recorder(path, images) if record else None, deploy=deploy)


def pinned_image(catalog: Catalog, service: str, version: str) -> str:
    """repository:version@sha256:… as the registry reports it now; the digest is checked before it is used."""
    ref = ImageRef.parse(candidate_image(catalog.service(service).image, version))

    async def digest() -> str:
        async with RegistryClient() as client:
            return await client.digest(ref, version)

    reported = asyncio.run(digest())
    try:
        return str(ref.with_digest(reported))
    except ValueError:
        raise ApplyError(
            f"{ref.registry}/{ref.path}:{version}: the registry's Docker-Content-Digest {reported[:100]!r} is not "
            "sha256: and 64 lowercase hex digits; nothing was changed. Check the registry (or pin the digest by hand)"
        ) from None


def apply(
    path: Path, service: str, version: str, *, deploy: Deployer | None = None, unvalidated: bool = False
) -> ApplyResult:
    """`aipair upgrade apply`: pin the registry's digest of ``version``, re-render, record, optionally deploy.

    A service of a lockstep group (``upgrade.group``) moves with every member: each member's digest is pinned in
    the same catalog edit, recorded in the history as one change, and deployed at once.
    The digests need one passing validation of them all in the ledger for this catalog (ledger.attest_all,
    LedgerError otherwise); ``unvalidated`` applies them anyway and appends one "unvalidated" record once the
    change stands. The catalog's lock is held from the first read to the last write, so a concurrent apply waits
    and then works on the catalog this one wrote (or gives up with LockBusy after locks.LOCK_TIMEOUT_SECONDS)."""
    with locked(path):
        catalog = load_catalog(path)
        tags = group_tags(catalog, service, version)  # every member (the asked one first) in its own tag shape
        images = {name: pinned_image(catalog, name, tag) for name, tag in tags.items()}
        pins = {name: ImageRef.parse(image).digest or "" for name, image in images.items()}
        attested, context = ledger.attest_all(path, pins, version, unvalidated=unvalidated)
        group = catalog.service(service).upgrade.group if len(tags) > 1 else None
        result = _change(path, service, images, history=_recorder(path, images, group), deploy=deploy)
        if attested is None and result.ok:
            ledger.append(path, ledger.group_unvalidated_record(pins=pins, tag=tags, context=context))
        return result


def rollback_target(root: Path, service: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The images the last recorded apply of ``service`` replaced (service → image: every member of a group
    applied together), and the history without those entries."""
    history = _history(root)
    for index in range(len(history) - 1, -1, -1):
        entry = history[index]
        if entry["service"] == service:
            change = entry.get("change")
            if change is None:
                return {service: entry["from"]}, history[:index] + history[index + 1 :]
            together = [e for e in history if e.get("change") == change]
            return {e["service"]: e["from"] for e in together}, [e for e in history if e.get("change") != change]
    raise ApplyError(f"no recorded upgrade of {service!r} to roll back (aipair upgrade apply records them)")


def rollback(path: Path, service: str, *, deploy: Deployer | None = None) -> ApplyResult:
    """`aipair rollback`: the image the last recorded apply replaced, back in the catalog (under its lock); for
    a service applied with its group, every member of that apply goes back together."""
    with locked(path):
        load_catalog(path)
        targets, remaining = rollback_target(path.parent, service)
        images = {service: targets[service], **{name: image for name, image in targets.items() if name != service}}
        return _change(path, service, images, history=lambda _previous: remaining, deploy=deploy)
