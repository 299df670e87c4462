"""The filesystem index built from layer tars (engines/image_layers.py): whiteouts, links, formats, bounds.

The tar bytes are built here (tests/helpers/oci.py); nothing touches a network or a disk."""

from __future__ import annotations

import dataclasses
import gzip
import tarfile
from pathlib import Path

import pytest

from aipair.engines.image_layers import FsIndex, LayerError, LayerReader, read_layers
from aipair.engines.limits import IMAGE

from ..helpers.oci import MEDIA, Entry, compress, file, folder, hardlink, opaque, symlink, tar_bytes, whiteout

BUSYBOX = [
    folder("bin"),
    file("bin/busybox", b"\x7fELF"),
    symlink("bin/sh", "busybox"),
    hardlink("bin/ls", "bin/busybox"),
]


def index_of(*layers: list[Entry], compression: str = "tar", fmt: int = tarfile.PAX_FORMAT) -> FsIndex:
    return read_layers([(MEDIA[compression], compress(tar_bytes(layer, fmt=fmt), compression)) for layer in layers])


def paths(index: FsIndex) -> set[str]:
    return {path for path, _ in index.walk()}


@pytest.mark.parametrize("compression", ["tar", "gzip", "zstd"])
def test_each_compression_gives_the_same_index(compression: str) -> None:
    index = index_of(BUSYBOX, [symlink("usr/bin/wget", "/bin/busybox")], compression=compression)
    assert paths(index) == {"/bin", "/bin/busybox", "/bin/sh", "/bin/ls", "/usr", "/usr/bin", "/usr/bin/wget"}
    wget = index.find_program("wget", ["/usr/bin", "/bin"])
    assert (wget.path, wget.target) == ("/usr/bin/wget", "/bin/busybox")
    assert index.find_program("sh", ["/bin"]).target == "/bin/busybox"  # a relative link
    ls = index.find_program("ls", ["/bin"])  # a hard link is the file itself
    assert (ls.path, ls.target) == ("/bin/ls", None)
    assert index.find_program("curl", ["/usr/bin", "/bin"]).path is None


def test_gnu_format_long_names_and_multi_member_gzip() -> None:
    deep = "opt/" + "/".join(["a-rather-long-directory-name"] * 8) + "/tool"
    layer = [file(deep), symlink("usr/local/bin/tool", "/" + deep)]
    index = index_of(layer, fmt=tarfile.GNU_FORMAT)
    assert index.find_program("tool", ["/usr/local/bin"]).target == "/" + deep
    data = tar_bytes([file("bin/a"), file("bin/b")])
    two_members = gzip.compress(data[:1024]) + gzip.compress(data[1024:])  # as pigz and concatenation make
    assert {"/bin/a", "/bin/b"} <= paths(read_layers([(MEDIA["gzip"], two_members)]))


def test_whiteout_deletes_a_lower_file_and_its_subtree() -> None:
    index = index_of(
        [*BUSYBOX, file("usr/bin/wget"), folder("etc/app"), file("etc/app/conf")],
        [whiteout("usr/bin/wget"), whiteout("etc/app")],
    )
    assert index.find_program("wget", ["/usr/bin", "/bin"]).path is None
    assert not {"/usr/bin/wget", "/etc/app", "/etc/app/conf"} & paths(index)
    assert "/etc" in paths(index)


def test_opaque_directory_keeps_only_this_layers_contents_in_any_order() -> None:
    index = index_of(
        [folder("data"), file("data/old"), folder("data/sub"), file("data/sub/old"), file("keep")],
        # the marker after the new entries: they stay (OCI: whiteouts apply to lower layers only)
        [file("data/sub/new"), file("data/new"), opaque("data")],
    )
    assert {p for p in paths(index) if p.startswith("/data")} == {"/data", "/data/new", "/data/sub", "/data/sub/new"}
    assert "/keep" in paths(index)


def test_whiteout_in_the_same_layer_does_not_delete_that_layers_file() -> None:
    index = index_of([file("bin/x")], [file("bin/y"), whiteout("bin/y"), whiteout("bin/x")])
    assert {"/bin/y"} == {p for p in paths(index) if p.startswith("/bin/")}


def test_a_later_layer_replaces_an_entry_and_dirs_merge() -> None:
    index = index_of(
        [folder("srv", uid=0), file("srv/a"), file("bin/tool")],
        [folder("srv", uid=1000, gid=1000, mode=0o700), symlink("bin/tool", "/nowhere")],
    )
    srv = index.path_info("/srv")[-1]
    assert (srv.kind, srv.uid, srv.gid, srv.mode) == ("dir", 1000, 1000, 0o700)
    assert "/srv/a" in paths(index)
    assert index.find_program("tool", ["/bin"]).path is None  # a dangling link is no program
    assert index.path_info("/bin/tool")[-1].kind == "symlink"


def test_program_lookup_rules() -> None:
    index = index_of(
        [
            file("bin/noexec", mode=0o644),
            folder("bin/dir"),
            symlink("bin/loop1", "loop2"),
            symlink("bin/loop2", "loop1"),
            folder("usr/bin"),
            file("usr/bin/python3.11"),
            symlink("usr/bin/python3", "python3.11"),
            symlink("usr/local/bin/python", "../../bin/python3"),
            symlink("sbin", "usr/bin"),  # a merged-usr style directory link on the PATH
        ]
    )
    for name in ("noexec", "dir", "loop1"):
        assert index.find_program(name, ["/bin"]).path is None, name
    python = index.find_program("python", ["/usr/local/bin"])
    assert (python.path, python.target) == ("/usr/local/bin/python", "/usr/bin/python3.11")
    found = index.find_program("python3", ["/sbin"])
    assert (found.path, found.target) == ("/sbin/python3", "/usr/bin/python3.11")


def test_path_info_gives_each_ancestor_root_first() -> None:
    index = index_of([folder("var"), folder("var/lib", uid=999, gid=999, mode=0o750), symlink("data", "var/lib")])
    infos = index.path_info("/var/lib/app/db")
    assert [i.path for i in infos] == ["/", "/var", "/var/lib", "/var/lib/app", "/var/lib/app/db"]
    assert [i.exists for i in infos] == [True, True, True, False, False]
    assert (infos[2].uid, infos[2].mode) == (999, 0o750)
    assert index.path_info("/data")[-1].kind == "dir"  # stat(2): the link is followed


def test_too_many_entries_is_stopped_naming_the_bound() -> None:
    limits = dataclasses.replace(IMAGE, max_entries=10)
    data = tar_bytes([file(f"f{n}") for n in range(11)])
    with pytest.raises(LayerError, match=r"more than 10 tar entries .*IMAGE.max_entries"):
        read_layers([(MEDIA["tar"], data)], limits)


def test_a_decompression_bomb_is_stopped_in_constant_memory() -> None:
    limits = dataclasses.replace(IMAGE, max_unpacked_bytes=8 * 1024 * 1024)
    bomb = compress(tar_bytes([file("zeros", bytes(64 * 1024 * 1024))]), "zstd")
    assert len(bomb) < 64 * 1024
    with pytest.raises(LayerError, match=r"unpack to more than 8 MiB .*IMAGE.max_unpacked_bytes"):
        read_layers([(MEDIA["zstd"], bomb)], limits)


def test_broken_layers_are_clear_errors() -> None:
    with pytest.raises(LayerError, match="not valid gzip"):
        read_layers([(MEDIA["gzip"], b"not gzip at all")])
    with pytest.raises(LayerError, match="middle of a member"):
        read_layers([(MEDIA["tar"], tar_bytes([file("a", b"x" * 2000)])[:1024])])
    with pytest.raises(LayerError, match="unknown layer media type"):
        LayerReader(FsIndex(), "application/x-squashfs")


def test_a_real_busybox_tree_from_the_standard_library(tmp_path: Path) -> None:
    """A tar written by tarfile from a real directory (not our builder), as `docker export` would give."""
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_bytes(Path("/bin/busybox").read_bytes()[:4096])
    (root / "bin" / "busybox").chmod(0o755)
    (root / "bin" / "wget").symlink_to("busybox")
    tar_path = tmp_path / "layer.tar"
    with tarfile.open(tar_path, "w") as archive:
        archive.add(root, arcname=".")
    index = read_layers([(MEDIA["tar"], tar_path.read_bytes())])
    assert index.find_program("wget", ["/bin"]).target == "/bin/busybox"
