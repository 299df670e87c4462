"""An image's final filesystem, built from its layers as they stream in: metadata only, never file contents.

Each layer is a tar (plain, gzip or zstd, by its media type) applied over the ones below it, as a container
runtime would unpack it: OCI whiteouts (``.wh.<name>`` deletes a lower path, ``.wh..wh..opq`` hides the lower
contents of its directory), hard links, later entries replacing earlier ones. The result answers the two
questions the catalog checks ask: is a program on the PATH (symlinks followed, so a busybox applet counts),
and what is a path (kind, owner, mode) and each of its ancestors.

Parsing is push-based (``LayerReader.feed``) so that a layer is read as it arrives, in constant memory: tar
headers are decoded with the standard library's ``tarfile.TarInfo.frombuf``; GNU long names and PAX headers
are handled here, bounded. Every bound (entries, unpacked bytes, header size) is an ImageBounds field.
"""

from __future__ import annotations

import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, cast

import zstandard

from ..errors import AipairError
from .image_facts import PathInfo, ProgramLookup
from .limits import IMAGE, KIB, MIB, ImageBounds

BLOCK = 512
CHUNK = 64 * KIB  # decompressed output is produced in pieces of at most this, whatever the ratio
MAX_HOPS = 40  # symlinks followed in one lookup, as Linux's MAXSYMLINKS
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
DEFAULT_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")

GZIP_TYPES = {
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
}
ZSTD_TYPES = {
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
}
TAR_TYPES = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar",
}


class LayerError(AipairError):
    """A layer that cannot be read, or one over a bound; the caller prefixes the image and layer."""


@dataclass
class Node:
    """One path of the filesystem: what it is, its owner and mode, a symlink's target, a directory's children.

    ``layer`` is the index of the layer that last wrote it: whiteouts hide only what lower layers wrote."""

    kind: str  # "dir", "file", "symlink", "other"
    uid: int = 0
    gid: int = 0
    mode: int = 0o755
    target: str = ""
    layer: int = -1
    children: dict[str, Node] | None = None


def _root() -> Node:
    return Node("dir", children={})


def _parts(path: str) -> list[str]:
    """A tar member name or a path as components: leading ``/`` and ``./`` dropped, ``..`` never above root."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return parts


@dataclass
class FsIndex:
    """The filesystem index of one image: layers applied in order (``begin_layer`` then entries)."""

    limits: ImageBounds = IMAGE
    root: Node = field(default_factory=_root)
    entries: int = 0
    unpacked: int = 0
    layer: int = -1

    def begin_layer(self) -> None:
        self.layer += 1

    # --- applying entries -------------------------------------------------------------------------------

    def count(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise LayerError(
                f"more than {self.limits.max_entries} tar entries in the image's layers "
                "(IMAGE.max_entries in engines/limits.py); stopped"
            )

    def apply(self, name: str, kind: str, *, uid: int, gid: int, mode: int, target: str = "") -> None:
        """One tar entry of the current layer; ``kind`` "hardlink" copies what ``target`` (a member name) is."""
        parts = _parts(name)
        if not parts:
            if kind == "dir":  # the archive's "./": the root's own owner and mode
                self.root.uid, self.root.gid, self.root.mode = uid, gid, mode
            return
        base = parts[-1]
        if base.startswith(WHITEOUT):
            directory = self._lookup(parts[:-1], follow_last=False)  # a whiteout never creates its directory
            if directory is None or directory.children is None:
                return
            if base == OPAQUE:
                self._prune_lower(directory)
                return
            hidden = directory.children.get(base[len(WHITEOUT) :])
            if hidden is not None and hidden.layer < self.layer:
                del directory.children[base[len(WHITEOUT) :]]
            return
        parent = self._parent_for_writing(parts[:-1])
        if kind == "hardlink":
            linked = self._lookup(_parts(target), follow_last=False)
            if linked is not None and linked.kind != "dir":
                kind, uid, gid, mode, target = linked.kind, linked.uid, linked.gid, linked.mode, linked.target
            else:
                kind, target = "file", ""
        assert parent.children is not None
        existing = parent.children.get(base)
        if kind == "dir" and existing is not None and existing.kind == "dir":
            existing.uid, existing.gid, existing.mode, existing.layer = uid, gid, mode, self.layer
            return
        parent.children[base] = Node(kind, uid, gid, mode, target, self.layer, children={} if kind == "dir" else None)

    def _parent_for_writing(self, parts: list[str]) -> Node:
        """The directory ``parts`` names, made when missing (tars may omit parents); a non-directory in the
        way is replaced by a directory, as unpacking would do."""
        node = self.root
        for part in parts:
            assert node.children is not None
            child = node.children.get(part)
            if child is None or child.kind != "dir":
                child = Node("dir", layer=self.layer, children={})
                node.children[part] = child
            node = child
        return node

    def _prune_lower(self, directory: Node) -> None:
        """An opaque directory: drop what lower layers put in it, keep what this layer wrote (in any order)."""
        if directory.children is None:
            return
        for name, child in list(directory.children.items()):
            if child.kind == "dir":
                self._prune_lower(child)
                if child.layer < self.layer and not child.children:
                    del directory.children[name]
            elif child.layer < self.layer:
                del directory.children[name]

    # --- questions ----------------------------------------------------------------------------------------

    def _lookup(self, parts: list[str], *, follow_last: bool) -> Node | None:
        resolved = self._resolve(parts, follow_last=follow_last)
        return resolved[0] if resolved else None

    def _resolve(self, parts: list[str], *, follow_last: bool, hops: int = MAX_HOPS) -> tuple[Node, str] | None:
        """The node ``parts`` leads to and its real path, symlinks followed (relative ones from their own
        directory, absolute ones from the image's root); None when missing, looping or past ``hops``."""
        stack: list[tuple[str, Node]] = []  # the real path walked so far
        pending = list(reversed(parts))
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if stack:
                    stack.pop()
                continue
            here = stack[-1][1] if stack else self.root
            if here.kind != "dir" or here.children is None:
                return None
            child = here.children.get(part)
            if child is None:
                return None
            if child.kind == "symlink" and (pending or follow_last):
                hops -= 1
                if hops < 0:
                    return None
                if child.target.startswith("/"):
                    stack = []
                pending.extend(reversed(child.target.split("/")))
                continue
            stack.append((part, child))
        node = stack[-1][1] if stack else self.root
        return node, "/" + "/".join(name for name, _ in stack)

    def find_program(self, name: str, path: list[str] | tuple[str, ...] = DEFAULT_PATH) -> ProgramLookup:
        """``name`` as a shell would find it on ``path``: the first entry holding an executable non-directory,
        symlinks followed (an applet link to /bin/busybox counts as present)."""
        if "/" in name:
            candidates = [name]
        else:
            candidates = [posixpath.join(entry or ".", name) for entry in path if entry.startswith("/")]
        for candidate in candidates:
            link = self._lookup(_parts(candidate), follow_last=False)
            resolved = self._resolve(_parts(candidate), follow_last=True)
            if link is None or resolved is None:
                continue
            node, real = resolved
            if node.kind == "file" and node.mode & 0o111:
                target = real if link.kind == "symlink" else None
                return ProgramLookup(name=name, path=posixpath.normpath(candidate), target=target)
        return ProgramLookup(name=name, path=None)

    def path_info(self, path: str) -> list[PathInfo]:
        """``path`` and each of its ancestors, root first, as stat(2) sees them (symlinks followed; a dangling
        one exists with kind "symlink")."""
        parts = _parts(path)
        infos: list[PathInfo] = []
        for depth in range(len(parts) + 1):
            prefix = parts[:depth]
            shown = "/" + "/".join(prefix)
            resolved = self._resolve(prefix, follow_last=True)
            node = resolved[0] if resolved else self._lookup(prefix, follow_last=False)
            if node is None:
                infos.append(PathInfo(path=shown, exists=False))
            else:
                infos.append(
                    PathInfo(path=shown, exists=True, kind=node.kind, uid=node.uid, gid=node.gid, mode=node.mode)
                )
        return infos

    def walk(self) -> Iterator[tuple[str, Node]]:
        """Every path and its node, parents first (for tests and debugging)."""
        pending: list[tuple[str, Node]] = [("", self.root)]
        while pending:
            prefix, node = pending.pop()
            for name, child in sorted((node.children or {}).items(), reverse=True):
                pending.append((f"{prefix}/{name}", child))
                yield f"{prefix}/{name}", child


# --- the tar stream ----------------------------------------------------------------------------------------


class TarParser:
    """A tar stream fed in pieces: each member's header goes to ``index``; member data is skipped unread."""

    def __init__(self, index: FsIndex) -> None:
        self._index = index
        self._buffer = bytearray()
        self._skip = 0  # bytes of member data (and padding) still to pass over
        self._collect: tuple[bytes, int, int] | None = None  # (type, size, padded) of a long name or PAX header
        self._long_name: str | None = None
        self._long_link: str | None = None
        self._pax: dict[str, str] = {}
        self._pax_global: dict[str, str] = {}
        self._ended = False

    def feed(self, data: bytes) -> None:
        self._index.unpacked += len(data)
        if self._index.unpacked > self._index.limits.max_unpacked_bytes:
            raise LayerError(
                f"the layers unpack to more than {self._index.limits.max_unpacked_bytes // MIB} MiB "
                "(IMAGE.max_unpacked_bytes in engines/limits.py); stopped"
            )
        if self._ended:
            return
        view = memoryview(data)
        if self._skip and not self._buffer:
            passed = min(self._skip, len(view))
            self._skip -= passed
            view = view[passed:]
        self._buffer += view
        self._drain()

    def close(self) -> None:
        """The stream ended: a member cut short is an error; the end-of-archive blocks are optional."""
        if self._skip or self._collect or (self._buffer and any(self._buffer)):
            raise LayerError("the layer's tar stream ends in the middle of a member")

    def _drain(self) -> None:
        buffer = self._buffer
        while not self._ended:
            if self._skip:
                passed = min(self._skip, len(buffer))
                del buffer[:passed]
                self._skip -= passed
                if self._skip:
                    return
            if self._collect is not None:
                kind, size, padded = self._collect
                if len(buffer) < padded:
                    return
                payload = bytes(buffer[:size])
                del buffer[:padded]
                self._collect = None
                self._special(kind, payload)
                continue
            if len(buffer) < BLOCK:
                return
            block = bytes(buffer[:BLOCK])
            del buffer[:BLOCK]
            if not any(block):
                self._ended = True  # the end-of-archive marker; what follows is padding
                buffer.clear()
                return
            self._header(block)

    def _header(self, block: bytes) -> None:
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise LayerError(f"the layer is not a valid tar stream ({exc})") from None
        pax = {**self._pax_global, **self._pax}
        size = info.size
        if "size" in pax and pax["size"].isdigit():
            size = int(pax["size"])
        padded = -(-size // BLOCK) * BLOCK
        kind = info.type
        if kind in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE):
            if size > self._index.limits.max_header_bytes:
                raise LayerError(
                    f"a tar extended header of {size} bytes, over the {self._index.limits.max_header_bytes} "
                    "bytes bound (IMAGE.max_header_bytes in engines/limits.py)"
                )
            self._collect = (kind, size, padded)
            return
        self._index.count()
        name = self._long_name if self._long_name is not None else pax.get("path", info.name)
        link = self._long_link if self._long_link is not None else pax.get("linkpath", info.linkname)
        uid = _pax_int(pax, "uid", info.uid)
        gid = _pax_int(pax, "gid", info.gid)
        self._long_name = self._long_link = None
        self._pax = {}
        if kind == tarfile.GNUTYPE_SPARSE:
            raise LayerError("the layer has a GNU sparse member, which image layers do not use")
        self._index.apply(name, _KINDS.get(kind, "other"), uid=uid, gid=gid, mode=info.mode & 0o7777, target=link)
        # as tarfile: regular members and unknown types carry data; links, directories and devices none
        self._skip = padded if kind in tarfile.REGULAR_TYPES or kind not in tarfile.SUPPORTED_TYPES else 0

    def _special(self, kind: bytes, payload: bytes) -> None:
        if kind == tarfile.GNUTYPE_LONGNAME:
            self._long_name = payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        elif kind == tarfile.GNUTYPE_LONGLINK:
            self._long_link = payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        elif kind == tarfile.XHDTYPE:
            self._pax = _pax_records(payload)
        else:
            self._pax_global.update(_pax_records(payload))


_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
}


def _pax_records(payload: bytes) -> dict[str, str]:
    """PAX records, ``"<length> <key>=<value>\\n"`` each (POSIX pax format); malformed ones end the parse."""
    records: dict[str, str] = {}
    position = 0
    while position < len(payload):
        space = payload.find(b" ", position)
        if space < 0 or not payload[position:space].isdigit():
            break
        length = int(payload[position:space])
        if length <= 0:
            break
        record = payload[space + 1 : position + length - 1]
        key, sep, value = record.partition(b"=")
        if sep:
            records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        position += length
    return records


def _pax_int(pax: dict[str, str], key: str, default: int) -> int:
    value = pax.get(key, "")
    return int(value) if value.isdigit() else default


# --- decompression -------------------------------------------------------------------------------------------


class _Sink:
    """What zstandard's stream writer writes its decompressed pieces to."""

    def __init__(self, consume: Callable[[bytes], None]) -> None:
        self._consume = consume

    def write(self, data: bytes) -> int:
        self._consume(bytes(data))
        return len(data)


class LayerReader:
    """One layer's compressed bytes in, the index updated as they arrive; ``close()`` after the last piece."""

    def __init__(self, index: FsIndex, media_type: str) -> None:
        self._tar = TarParser(index)
        self._media_type = media_type
        self._gzip: zlib._Decompress | None = None
        self._zstd: zstandard.ZstdDecompressionWriter | None = None
        if media_type in GZIP_TYPES:
            self._gzip = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        elif media_type in ZSTD_TYPES:
            self._zstd = zstandard.ZstdDecompressor().stream_writer(
                cast("IO[bytes]", _Sink(self._tar.feed)), write_size=CHUNK, write_return_read=True
            )
        elif media_type not in TAR_TYPES:
            raise LayerError(f"unknown layer media type {media_type[:100]!r}; aipair reads tar, tar+gzip and tar+zstd")
        index.begin_layer()

    def feed(self, data: bytes) -> None:
        try:
            if self._gzip is not None:
                self._feed_gzip(data)
            elif self._zstd is not None:
                self._zstd.write(data)
            else:
                self._tar.feed(data)
        except (zlib.error, zstandard.ZstdError) as exc:
            raise LayerError(f"the layer is not valid {self._media_type.rsplit('+', 1)[-1]} ({exc})") from None

    def _feed_gzip(self, data: bytes) -> None:
        """Output in pieces of at most CHUNK (a bomb cannot fill memory); a new member after each one ends."""
        pending = data
        while pending:
            assert self._gzip is not None
            out = self._gzip.decompress(pending, CHUNK)
            if out:
                self._tar.feed(out)
            if self._gzip.unconsumed_tail:
                pending = self._gzip.unconsumed_tail
            elif self._gzip.eof:
                pending = self._gzip.unused_data
                if pending:
                    self._gzip = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            else:
                pending = b""

    def close(self) -> None:
        try:
            if self._gzip is not None:
                self._tar.feed(self._gzip.flush())
                if not self._gzip.eof:
                    raise LayerError("the layer's gzip stream is cut short")
            # zstd: write() has already passed every decompressed byte on; a frame cut short shows as a
            # member cut short (and a registry's truncation as a digest mismatch)
        except (zlib.error, zstandard.ZstdError) as exc:
            raise LayerError(f"the layer is not valid {self._media_type.rsplit('+', 1)[-1]} ({exc})") from None
        self._tar.close()


def read_layers(layers: list[tuple[str, bytes]], limits: ImageBounds = IMAGE) -> FsIndex:
    """The index of layers given whole, as (media type, bytes): for tests and small local images."""
    index = FsIndex(limits)
    for media_type, data in layers:
        reader = LayerReader(index, media_type)
        for start in range(0, len(data), CHUNK):
            reader.feed(data[start : start + CHUNK])
        reader.close()
    return index
