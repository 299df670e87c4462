"""Image references (`registry/name:tag@digest`): the one parser that validation, the registry client,
upgrades, deploys and the Renovate config share.

The grammar is docker/distribution's reference grammar, split into named groups so a failure can
say which part is wrong. Hand-written because no maintained Python package parses it without also
pulling in a Docker client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "registry-1.docker.io"

_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
# Docker's tag grammar: [\w][\w.-]{0,127} with \w meaning ASCII [A-Za-z0-9_] (Python's and Rust's \w are Unicode).
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# The OCI image spec registers sha256 (64 lowercase hex) and sha512 (optional for implementations); the
# catalog pins sha256 only, as docker/distribution's canonical digests are.
_DIGEST = r"sha256:[a-f0-9]{64}"
IMAGE_RE = re.compile(
    rf"^(?P<repository>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?"
    rf"(?:@(?P<digest>{_DIGEST}))?$"
)
TAG_RE = re.compile(_TAG)
DIGEST_RE = re.compile(_DIGEST)


def check_tag(text: str) -> str:
    """``text`` if it is a Docker tag, else ValueError: a tag ends up inside catalog.yaml and URLs."""
    if not TAG_RE.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a valid Docker tag; a tag is 1-128 of A-Z a-z 0-9 _ . - and does not start "
            "with . or -, e.g. v1.13.5"
        )
    return text


def check_digest(text: str) -> str:
    """``text`` if it is a sha256 digest in canonical form (``sha256:`` and 64 lowercase hex), else ValueError.

    A registry's ``Docker-Content-Digest`` header is untrusted input that is written into catalog.yaml."""
    if not DIGEST_RE.fullmatch(text):
        raise ValueError(
            f"{text[:120]!r} is not a sha256 digest (sha256: followed by 64 lowercase hex digits); "
            "aipair pins images by sha256 only"
        )
    return text


@dataclass(frozen=True)
class ImageRef:
    """``name`` is the repository as written (``qdrant/qdrant``, ``ghcr.io/org/app``, ``localhost:5000/x``)."""

    name: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Raises ValueError naming what to write instead."""
        match = IMAGE_RE.fullmatch(text)  # fullmatch: `$` alone would accept a trailing newline
        if not match:
            raise ValueError(
                f"{text!r} is not a valid image reference; write registry/name:tag, e.g. qdrant/qdrant:v1.13.4"
            )
        return cls(match.group("repository"), match.group("tag"), match.group("digest"))

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def registry(self) -> str:
        """The registry host (Docker Hub's API host for unqualified names and docker.io)."""
        first, _, rest = self.name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost") and first != "docker.io":
            return first
        return DOCKER_HUB

    @property
    def path(self) -> str:
        """The repository inside its registry: ``library/redis`` for Docker Hub's official images."""
        first, _, rest = self.name.partition("/")
        if self.registry != DOCKER_HUB:
            return rest
        if first == "docker.io":
            return rest if "/" in rest else f"library/{rest}"
        return self.name if "/" in self.name else f"library/{self.name}"

    def with_tag(self, tag: str) -> ImageRef:
        """The same repository at another tag (a digest pins one tag, so it is dropped); ValueError for a bad tag."""
        return ImageRef(self.name, check_tag(tag))

    def with_digest(self, digest: str) -> ImageRef:
        """The same reference pinned to ``digest``; ValueError unless it is a canonical sha256 digest."""
        return ImageRef(self.name, self.tag, check_digest(digest))

    @property
    def pullable(self) -> str:
        """What the engine pulls: a pinned `name:tag@sha256:…` is pulled (and found) by its digest alone."""
        return f"{self.name}@{self.digest}" if self.digest else str(self)
