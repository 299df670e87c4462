"""The files aipair writes: atomically, only when changed, and compared with the disk for ``--check``."""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from pathlib import Path

from ..results import Result


class Drift(Result):
    path: str
    missing: bool
    diff: str  # unified diff, committed → rendered; empty when the file is missing


def compare(root: Path, files: dict[str, str]) -> list[Drift]:
    """Every rendered file whose committed copy under ``root`` differs or is missing."""
    drifts: list[Drift] = []
    for relative, text in files.items():
        path = root / relative
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            drifts.append(Drift(path=relative, missing=True, diff=""))
            continue
        if current != text:
            diff = unified_diff(current, text, before=f"{relative} (committed)", after=f"{relative} (rendered)")
            drifts.append(Drift(path=relative, missing=False, diff=diff))
    return drifts


def unified_diff(old: str, new: str, *, before: str, after: str) -> str:
    """A unified diff of two texts, with the names its headers give them."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), before, after)
    return "".join(lines)


def write_files(root: Path, files: dict[str, str]) -> list[str]:
    """Write each file atomically; return the paths that changed. Unchanged files are not touched."""
    changed: list[str] = []
    for relative, text in files.items():
        path = root / relative
        try:
            if path.read_text(encoding="utf-8") == text:
                continue
        except FileNotFoundError:
            pass
        atomic_write(path, text, mode=0o644)
        changed.append(relative)
    return changed


def atomic_write(path: Path, text: str, *, mode: int) -> None:
    """Write via a temporary file in the same folder and rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: object, *, indent: int | None = 2) -> None:
    """A JSON document (reports, candidate lists, generated configs), world-readable, newline-terminated."""
    atomic_write(path, json.dumps(payload, indent=indent) + "\n", mode=0o644)
