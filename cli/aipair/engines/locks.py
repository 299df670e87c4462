"""Advisory locks that serialise aipair's writers of one file (catalog.yaml, compose/.env, the Pulumi passphrase).

Two concurrent runs that read, change and write the same file would each write their own version and one
change would be lost. Every writer takes the file's lock around its read-modify-write; the lock lives in a
sibling ``.<name>.lock`` file (git-ignored) so that the file itself can be replaced atomically by rename.
filelock does the platform work (flock on POSIX, released by the kernel when a process dies). The lock
re-enters within one process (one FileLock per path): a writer may call another writer of the same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import AipairError

# How long a second run waits for the first before it gives up; long enough for a render, short enough
# that a stuck run is noticed.
LOCK_TIMEOUT_SECONDS = 60.0


class LockBusy(AipairError):
    """Another aipair run holds the lock of a file this run must change."""


def lock_path(path: Path) -> Path:
    """Where the lock of ``path`` lives: ``.<name>.lock`` beside it."""
    return path.with_name(f".{path.name}.lock")


@contextmanager
def locked(path: Path, *, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold the lock of ``path`` for the block; wait up to ``timeout`` seconds for another holder."""
    lock_file = lock_path(path)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_file), mode=0o600, is_singleton=True)  # one per path: nesting re-enters
    try:
        lock.acquire(timeout=timeout)
    except Timeout as exc:
        raise LockBusy(
            f"{path} is being changed by another aipair run (waited {timeout:.0f} s for {lock_file}); "
            "wait for it to finish: the lock is released when that process ends"
        ) from exc
    try:
        yield
    finally:
        lock.release()
