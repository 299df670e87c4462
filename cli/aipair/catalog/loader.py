"""Read a catalog file, validate it once, and return the typed model (or every problem, located)."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import CatalogError, Problem
from .checks import check_catalog
from .model import Catalog
from .types import PATTERN_HINTS
from .yamlpos import Positions, YamlProblem, format_path, load_positioned

MAX_CATALOG_BYTES = 8 * 1024 * 1024


def load_catalog(path: Path | str) -> Catalog:
    """Load and validate ``path``. Raises CatalogError naming file, line and field of each problem."""
    shown = str(path)
    return parse_catalog(_read_text(Path(path), shown), source=shown)


def _read_text(path: Path, shown: str) -> str:
    """The catalog's text, read from a regular file of at most MAX_CATALOG_BYTES.

    Opened without blocking and checked on the open descriptor (no race with a swapped path), so a
    FIFO, a device such as /dev/zero or a directory is refused at once; the read itself is bounded,
    for files that report no size (/proc) or grow while read.
    """

    def refuse(message: str) -> CatalogError:
        return CatalogError([Problem(shown, None, "", message)])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise refuse("file not found; pass --catalog PATH or set AIPAIR_CATALOG") from None
    except IsADirectoryError:
        raise refuse("not a regular file (a directory); pass the catalog file itself") from None
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror}") from None
    too_big = f"a catalog may be at most {MAX_CATALOG_BYTES // 2**20} MiB; split it or remove generated content"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise refuse(f"not a regular file (a {_file_kind(info.st_mode)}); pass the catalog file itself")
        if info.st_size > MAX_CATALOG_BYTES:
            raise refuse(f"the file is {info.st_size / 2**20:.1f} MiB; {too_big}")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_CATALOG_BYTES + 1)
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_CATALOG_BYTES:
        raise refuse(f"the file is larger than {MAX_CATALOG_BYTES // 2**20} MiB; {too_big}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "directory",
        stat.S_ISFIFO: "FIFO",
        stat.S_ISCHR: "character device",
        stat.S_ISBLK: "block device",
        stat.S_ISSOCK: "socket",
    }
    return next((kind for test, kind in kinds.items() if test(mode)), "special file")


def parse_catalog(text: str, *, source: str = "catalog.yaml") -> Catalog:
    """Validate catalog text; ``source`` is the name used in messages."""
    try:
        data, positions = load_positioned(text)
    except YamlProblem as exc:
        raise CatalogError([Problem(source, exc.line, exc.field, exc.message)]) from None
    if data is None:
        raise CatalogError(
            [Problem(source, 1, "", "the catalog is empty; start with `version: 1`, `project:` and `services:`")]
        )
    if not isinstance(data, dict):
        raise CatalogError(
            [Problem(source, 1, "", f"the catalog must be a mapping of settings, not a {type(data).__name__}")]
        )
    _env_as_written(data, positions)
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_problems_from_validation(exc, data, positions, source)) from None
    problems = []
    for loc, message in check_catalog(catalog):
        line, walked = positions.locate(data, loc)
        problems.append(Problem(source, line or _first_line(data, positions), format_path(walked), message))
    if problems:
        raise CatalogError(problems)
    return catalog


def _env_as_written(data: dict[str, Any], positions: Positions) -> None:
    """Env values are text: keep what the author wrote where YAML 1.1 would type it.

    Unquoted `0077` is the int 63 to YAML 1.1, `yes` and `on` are true, `3.10` is 3.1, `12:30` is 750,
    `2024-01-01` a date;
    a container reads its environment as strings, so the source text is what was meant.
    """
    services = data.get("services")
    if not isinstance(services, dict):
        return
    for service in services.values():
        env = service.get("env") if isinstance(service, dict) else None
        if not isinstance(env, dict):
            continue
        for key, value in env.items():
            text = positions.source_text(env, key)
            if text is not None and isinstance(value, (int, float, dt.date)):  # bool is an int, datetime a date
                env[key] = text


def _problems_from_validation(exc: ValidationError, data: Any, positions: Positions, source: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[int | None, str, str]] = set()
    for error in exc.errors(include_url=False):
        line, walked = positions.locate(data, tuple(error["loc"]))
        line = line or _first_line(data, positions)  # nothing to point at: a top-level field is missing
        field = format_path(walked)
        message = _explain(error)
        key = (line, field, message)
        if key not in seen:  # union members can repeat the same complaint
            seen.add(key)
            problems.append(Problem(source, line, field, message))
    return problems


def _first_line(data: dict[str, Any], positions: Positions) -> int:
    """The line of the document's first top-level key (1 when unknown): where a top-level field is missing."""
    return min(positions.key_lines.get(id(data), {}).values(), default=1)


def _explain(error: Any) -> str:
    """Turn pydantic's wording into an instruction."""
    kind = error["type"]
    given = error.get("input")
    shown = repr(given) if not isinstance(given, (dict, list)) else type(given).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    if kind == "extra_forbidden":
        return "unknown field; remove it or fix its spelling (`aipair catalog schema` lists every field)"
    if kind == "missing":
        return "missing required field"
    if kind == "string_pattern_mismatch":
        pattern = str(error.get("ctx", {}).get("pattern", ""))
        hint = PATTERN_HINTS.get(pattern, f"it must match {pattern}")
        return f"{shown} is not in the allowed form: {hint}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{shown} is not allowed; use one of {expected}"
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        return f"unknown type {error.get('ctx', {}).get('tag')!r}; use one of {expected}"
    if kind == "union_tag_not_found":
        return "missing `type:`; use http, tcp or command"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        return message[len("Value error, ") :]
    return f"{message} (got {shown})"
