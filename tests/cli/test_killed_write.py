"""A write killed outright leaves no readable secret: only a private, git-ignored temporary file, which the
next locked writer removes. Real processes, a real SIGKILL, real `git check-ignore` on the repository's
.gitignore."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aipair.catalog import load_catalog
from aipair.engines.files import temporaries_of
from aipair.engines.secretstore import ensure_env, read_env

from ..helpers.catalogs import minimal, write
from ..helpers.paths import ROOT

# Writes a large secret with atomic_write and stops for good right after the content reached the disk,
# before the rename: the parent kills it there.
WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from aipair.engines import files

    target, ready = Path(sys.argv[1]), Path(sys.argv[2])
    def fsync(fd):
        ready.write_text("written")
        time.sleep(600)
    files.os.fsync = fsync
    files.atomic_write(target, "SECRET=" + "k" * 5_000_000 + "\\n", mode=0o600)
    """
)


def kill_mid_write(target: Path, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(ready)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert process.poll() is None, "the writer ended before it was killed"
            assert time.monotonic() < deadline, "the writer never reached the disk"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("existing", [None, "SECRET=old\n"], ids=["first write", "replacing"])
def test_a_killed_write_leaves_only_a_private_ignored_temporary(
    existing: str | None, tmp_path: Path, repository: Path
) -> None:
    target = tmp_path / "compose" / ".env"
    target.parent.mkdir()
    if existing is not None:
        target.write_text(existing)
        target.chmod(0o600)
    kill_mid_write(target, tmp_path)
    assert (target.read_text() if target.exists() else None) == existing, "the file is the old one, never half"
    [left] = temporaries_of(target)
    assert stat.S_IMODE(left.stat().st_mode) == 0o600, "nobody else can read the secret in it"
    assert left.stat().st_size > 5_000_000
    assert ignored(repository, f"compose/{left.name}")


def test_the_next_locked_write_removes_what_a_killed_one_left(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, minimal()))
    target = tmp_path / "compose" / ".env"
    target.parent.mkdir()
    kill_mid_write(target, tmp_path)
    assert temporaries_of(target)
    result = ensure_env(catalog, "mvp", target)
    assert temporaries_of(target) == []
    assert result.created and read_env(target)["CACHE_PASSWORD"]


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new git repository holding only a copy of the project's .gitignore (the checkout may not be one)."""
    folder = tmp_path_factory.mktemp("gitignore")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    shutil.copy(ROOT / ".gitignore", folder / ".gitignore")
    return folder


def ignored(repository: Path, relative: str) -> bool:
    """Whether the project's .gitignore ignores ``relative``, as git itself decides."""
    run = subprocess.run(
        ["git", "-C", str(repository), "check-ignore", "--no-index", "-q", relative], capture_output=True, check=False
    )
    assert run.returncode in (0, 1), run.stderr
    return run.returncode == 0


@pytest.mark.parametrize(
    "relative",
    [
        "compose/.env",
        "compose/..env.k2j3h4.tmp",
        "compose/..env.lock",
        "stacks/.passphrase",
        "stacks/..passphrase.a8s7d6.tmp",
        "stacks/..passphrase.lock",
        ".catalog.yaml.zx81.tmp",
        ".catalog.yaml.lock",
        "examples/.media.yaml.q1.tmp",
        "deep/er/folder/.anything.json.abc.tmp",
    ],
)
def test_secrets_their_temporaries_and_locks_are_git_ignored(relative: str, repository: Path) -> None:
    assert ignored(repository, relative)


@pytest.mark.parametrize("relative", ["catalog.yaml", "compose/docker-compose.yml", "compose/.env.example"])
def test_the_files_that_belong_in_git_are_not_ignored(relative: str, repository: Path) -> None:
    assert not ignored(repository, relative)
