"""The files aipair writes: atomically, only when changed, and compared with the disk for ``--check``."""

from __future__ import annotations

import difflib
import errno
import glob
import json
import os
import tempfile
from pathlib import Path

from ..results import Result

# Matched by `.*.tmp` in .gitignore: a temporary file left by a killed write is never committed.
TEMPORARY_SUFFIX = ".tmp"


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
    """Write via a temporary file in the same folder and rename: readers never see half a file.

    The temporary file ``.<name>.<random>.tmp`` is created with mode 0600 (mkstemp), so a secret is never
    readable by others while it is written; it gets ``mode`` only once complete, just before the rename.
    It is removed on any exception, Ctrl-C included; only a killed process leaves one behind, private and
    git-ignored (``.*.tmp``), and the next locked writer of ``path`` removes it (remove_stale_temporaries).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _write_temporary(path, text.encode("utf-8"), mode=mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def create_exclusive(path: Path, text: str, *, mode: int) -> bool:
    """Create ``path`` with ``text`` unless it exists; False when it did. Never replaces, never half-written.

    The content is written to a private temporary file first and then hard-linked to ``path``: link(2)
    fails when ``path`` exists (like O_EXCL) and the name appears complete or not at all. On a file system
    without hard links it falls back to O_CREAT|O_EXCL with ``mode`` from the start.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    temporary = _write_temporary(path, data, mode=mode)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        return _create_with_o_excl(path, data, mode=mode)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_folder(path.parent)
    return True


def append_durably(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Append ``text`` (whole, newline-terminated lines) to ``path``, creating it with ``mode``: one O_APPEND
    write, then fsync, so a record is on disk once this returns; a new file's folder entry is fsynced too.
    Callers hold the lock of what the file belongs to (engines/locks.py): appends never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    created = not path.exists()
    fd = os.open(path, flags, mode)
    try:
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_folder(path.parent)


def _create_with_o_excl(path: Path, data: bytes, *, mode: int) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def _write_temporary(path: Path, data: bytes, *, mode: int) -> Path:
    """A complete, fsync'd sibling temporary file holding ``data``; 0600 until it is complete."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)  # mode 0600
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable: after a power cut the file is the old or the new one, not missing."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # not possible on this platform (Windows); the rename itself is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporaries_of(path: Path) -> list[Path]:
    """The temporary files atomic_write of ``path`` creates (and a killed one leaves behind)."""
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*{TEMPORARY_SUFFIX}"))


def remove_stale_temporaries(path: Path) -> None:
    """Remove what killed writes of ``path`` left. Only under the lock of ``path`` (engines/locks.py): there,
    no other writer of ``path`` is running, so every temporary file of ``path`` is stale."""
    for temporary in temporaries_of(path):
        temporary.unlink(missing_ok=True)


def write_json(path: Path, payload: object, *, indent: int | None = 2) -> None:
    """A JSON document (reports, candidate lists, generated configs), world-readable, newline-terminated."""
    atomic_write(path, json.dumps(payload, indent=indent) + "\n", mode=0o644)
