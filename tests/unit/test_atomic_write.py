"""Atomic writes: private from the first byte, durable, and nothing left behind by a failed write.

A write killed outright (SIGKILL) is tested with a real process in tests/cli/test_killed_write.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aipair.engines import files
from aipair.engines.files import atomic_write, create_exclusive, remove_stale_temporaries, temporaries_of

SECRET = "s3cr3t-" * 1000


@pytest.fixture
def open_umask() -> object:
    """The most permissive umask: the modes aipair sets must not depend on the deployer's."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.parametrize("mode", [0o600, 0o644], ids=["0600", "0644"])
def test_the_temporary_file_is_private_while_it_is_written_and_synced(
    mode: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask: object
) -> None:
    seen: list[tuple[int, int]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            seen.append((stat.S_IMODE(info.st_mode), info.st_size))
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    path = tmp_path / "compose" / ".env"
    atomic_write(path, SECRET, mode=mode)
    assert seen == [(0o600, len(SECRET))], "the content was synced while the file was still 0600"
    assert stat.S_IMODE(path.stat().st_mode) == mode and path.read_text() == SECRET
    assert temporaries_of(path) == []


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()], ids=["OSError", "KeyboardInterrupt"])
@pytest.mark.parametrize("where", ["replace", "fsync", "write"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    error: BaseException, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / ".env"
    path.write_text("OLD=1\n")
    path.chmod(0o600)

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    if where == "write":
        monkeypatch.setattr(files.os, "fdopen", lambda fd, *a, **k: _FailingFile(fd, error))
    else:
        monkeypatch.setattr(files.os, where, fail)
    with pytest.raises(type(error)):
        atomic_write(path, SECRET, mode=0o600)
    assert path.read_text() == "OLD=1\n"
    assert list(tmp_path.iterdir()) == [path], "no temporary file holding the secret is left"


class _FailingFile:
    """A double of the file object whose write fails (a full disk, Ctrl-C in the middle of a write)."""

    def __init__(self, fd: int, error: BaseException) -> None:
        self.fd, self.error = fd, error

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def write(self, data: bytes) -> int:
        raise self.error


def test_create_exclusive_never_replaces_and_is_private(tmp_path: Path, open_umask: object) -> None:
    path = tmp_path / "stacks" / ".passphrase"
    assert create_exclusive(path, "first\n", mode=0o600) is True
    assert create_exclusive(path, "second\n", mode=0o600) is False
    assert path.read_text() == "first\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [".passphrase"]


def test_create_exclusive_falls_back_to_o_excl_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask: object
) -> None:
    def no_links(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # as on a file system without hard links

    monkeypatch.setattr(files.os, "link", no_links)
    path = tmp_path / ".passphrase"
    assert create_exclusive(path, "first\n", mode=0o600) is True
    assert create_exclusive(path, "second\n", mode=0o600) is False
    assert path.read_text() == "first\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".passphrase"]


def test_stale_temporaries_of_one_file_are_removed_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    stale = [tmp_path / "..env.abc123.tmp", tmp_path / "..env.x.tmp"]
    others = [tmp_path / ".other.env.abc.tmp", tmp_path / ".env.example", tmp_path / "..env.lock", path]
    for file in stale + others:
        file.write_text("x")
    assert temporaries_of(path) == sorted(stale)
    remove_stale_temporaries(path)
    assert sorted(tmp_path.iterdir()) == sorted(others)
