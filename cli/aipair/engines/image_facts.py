"""What the registry says about one image, read without an engine: the typed result of inspecting it.

engines/image_inspect.py fills it from the index, manifest, config blob and layers; ops/images.py checks
the catalog's assumptions against it. Plain data (pydantic, so it is also the `--json` document and the
on-disk cache format, keyed by the manifest digest).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

PLATFORM = "linux/amd64"  # the platform aipair deploys to (the hosts and clusters we run on)
# The programs a probe may need (catalog/probes.py) and a few more an operator asks about.
PROBE_PROGRAMS = ("curl", "wget", "bash", "sh", "nc", "node", "python", "python3")


class ImageHealthcheck(BaseModel):
    """The image's own HEALTHCHECK (config.Healthcheck), as the image author wrote it."""

    test: list[str]
    interval_seconds: float | None = None
    timeout_seconds: float | None = None
    retries: int | None = None


class ProgramLookup(BaseModel):
    """Where a program was found on the image's PATH (symlinks followed, e.g. a busybox applet), or None."""

    name: str
    path: str | None  # the PATH entry it was found under, e.g. /usr/bin/wget
    target: str | None = None  # what the symlink chain ends at, e.g. /bin/busybox


class PathInfo(BaseModel):
    """One path in the image's final filesystem (after every layer and whiteout)."""

    path: str  # absolute, normalised
    exists: bool
    kind: str = ""  # "dir", "file", "symlink", "other"; "" when it does not exist
    uid: int = 0
    gid: int = 0
    mode: int = 0  # permission bits, e.g. 0o755


class ImageFacts(BaseModel):
    """One image for PLATFORM. ``digest`` is what was inspected (the platform manifest's digest);
    ``index_digest`` the digest a tag points at when it is a multi-platform index."""

    reference: str  # as asked, e.g. qdrant/qdrant:v1.13.4
    digest: str
    index_digest: str | None = None
    platforms: list[str]  # every platform the tag offers (an index), or the one it is
    has_platform: bool  # PLATFORM is among them
    user: str = ""  # config.User; "" means root
    entrypoint: list[str] = Field(default_factory=list)
    cmd: list[str] = Field(default_factory=list)
    working_dir: str = ""
    exposed_ports: list[str] = Field(default_factory=list)  # "8080/tcp", as in config.ExposedPorts
    volumes: list[str] = Field(default_factory=list)
    env_keys: list[str] = Field(default_factory=list)  # names only: values may be secrets
    path: list[str] = Field(default_factory=list)  # the PATH the image sets (or the default)
    healthcheck: ImageHealthcheck | None = None
    size: int  # bytes: the compressed layers, as a pull transfers them
    layers: int
    programs: list[ProgramLookup] = Field(default_factory=list)  # PROBE_PROGRAMS and any asked for
    paths: list[PathInfo] = Field(default_factory=list)  # each path asked about, and each of its ancestors

    def program(self, name: str) -> ProgramLookup | None:
        return next((p for p in self.programs if p.name == name), None)

    def path_info(self, path: str) -> PathInfo | None:
        return next((p for p in self.paths if p.path == path), None)

    @property
    def runs_as_root(self) -> bool:
        """No user, or user 0 / root (by name or number, with or without a group)."""
        user = self.user.partition(":")[0]
        return user in ("", "0", "root")
