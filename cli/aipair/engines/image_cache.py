"""A disk cache of ImageFacts, so that a second inspect of the same image reads no blob at all.

Everything in it is keyed by content digests, so an entry is never stale: a tag is resolved to its digest
each time (one HEAD), then ``index-…`` maps that digest and the platform to the platform manifest's digest,
and ``facts-…`` holds the facts of that manifest for one set of questions (programs and paths asked).
Files are private (0600, under ``$XDG_CACHE_HOME/aipair/images/``) and written atomically; one that does
not parse is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .files import atomic_write
from .image_facts import ImageFacts

M = TypeVar("M", bound=BaseModel)
FORMAT = 1  # bumped when what an entry means changes: older entries are then simply not found


class Resolution(BaseModel):
    """What a digest (index or manifest) resolves to for one platform."""

    digest: str  # the platform manifest's
    platforms: list[str]


def default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aipair" / "images"


def _hex(digest: str) -> str:
    return digest.partition(":")[2] or digest


def question_key(programs: Sequence[str], paths: Sequence[str]) -> str:
    """The programs and paths asked about, order and repetition ignored."""
    text = json.dumps([FORMAT, sorted(set(programs)), sorted(set(paths))])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class ImageCache:
    """``ImageCache()`` uses the user's cache folder; tests pass their own ``root``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()

    def resolution(self, digest: str, platform: str) -> Resolution | None:
        return self._load(self._index_path(digest, platform), Resolution)

    def facts(self, manifest_digest: str, programs: Sequence[str], paths: Sequence[str]) -> ImageFacts | None:
        return self._load(self._facts_path(manifest_digest, programs, paths), ImageFacts)

    def lookup(self, digest: str, platform: str, programs: Sequence[str], paths: Sequence[str]) -> ImageFacts | None:
        """The facts for the image ``digest`` (a tag's index or manifest digest) names, or None."""
        resolution = self.resolution(digest, platform)
        if resolution is None:
            return None
        facts = self.facts(resolution.digest, programs, paths)
        if facts is None:
            return None
        index_digest = digest if digest != resolution.digest else None
        return facts.model_copy(update={"index_digest": index_digest, "platforms": resolution.platforms})

    def store(
        self, digest: str, platform: str, facts: ImageFacts, programs: Sequence[str], paths: Sequence[str]
    ) -> None:
        """Remember ``facts`` (of the platform manifest) and that ``digest`` resolves to it."""
        self._write(self._facts_path(facts.digest, programs, paths), facts)
        self._write(self._index_path(digest, platform), Resolution(digest=facts.digest, platforms=facts.platforms))

    def _index_path(self, digest: str, platform: str) -> Path:
        return self.root / f"index-{_hex(digest)}-{platform.replace('/', '_')}.json"

    def _facts_path(self, digest: str, programs: Sequence[str], paths: Sequence[str]) -> Path:
        return self.root / f"facts-{_hex(digest)}-{question_key(programs, paths)}.json"

    def _write(self, path: Path, model: BaseModel) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, model.model_dump_json() + "\n", mode=0o600)

    @staticmethod
    def _load(path: Path, model: type[M]) -> M | None:
        try:
            return model.model_validate_json(path.read_bytes())
        except (OSError, ValidationError, ValueError):
            return None
