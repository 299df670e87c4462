"""Makes the mock image locally: static busybox + the serve script, imported as a one-layer image.

No builder and no registry: the root filesystem is a tar made here (deterministic order and
timestamps) and handed to the engine's import endpoint, so it works offline and over ssh.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from ..errors import Unavailable
from ..render.mock import MOCK_IMAGE, SERVE_SCRIPT

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


class MockImageError(Unavailable):
    """The mock image cannot be made here (no static busybox)."""


def is_static_elf(path: Path) -> bool:
    """True when the ELF file has no PT_INTERP program header (needs no dynamic loader)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only, as on our hosts
        return False
    (phoff,) = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3 for i in range(phnum))


def find_busybox() -> Path:
    for candidate in [shutil.which("busybox"), *BUSYBOX_CANDIDATES]:
        if candidate and Path(candidate).is_file() and is_static_elf(Path(candidate)):
            return Path(candidate)
    raise MockImageError("a static busybox is needed to make the mock image: `apt-get install busybox-static`")


def rootfs_tar(busybox: Path) -> bytes:
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(
            name: str, *, data: bytes | None = None, mode: int = 0o755, kind: bytes = tarfile.DIRTYPE, link: str = ""
        ) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.linkname = kind, mode, 0, link
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)

        for folder in ("bin", "mock", "tmp", "www", "etc"):
            add(folder, mode=0o1777 if folder == "tmp" else 0o755)
        add("bin/busybox", data=busybox.read_bytes(), kind=tarfile.REGTYPE)
        for applet in sorted(set(applets) - {"busybox"}):  # `busybox --list` names itself too
            add(f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox", mode=0o777)
        add("mock/serve", data=SERVE_SCRIPT.encode(), kind=tarfile.REGTYPE)
        add("etc/passwd", data=b"root:x:0:0:root:/:/bin/sh\n", kind=tarfile.REGTYPE, mode=0o644)
    return buffer.getvalue()


def ensure_mock_image(client: Any, *, rebuild: bool = False) -> tuple[str, bool]:
    """Make MOCK_IMAGE on the engine unless it is there. Returns (image, built_now)."""
    from docker.errors import ImageNotFound

    if not rebuild:
        try:
            client.images.get(MOCK_IMAGE)
            return MOCK_IMAGE, False
        except ImageNotFound:
            pass
    repository, tag = MOCK_IMAGE.rsplit(":", 1)
    client.api.import_image_from_data(
        rootfs_tar(find_busybox()),
        repository=repository,
        tag=tag,
        changes=['ENTRYPOINT ["/bin/sh", "/mock/serve"]', "ENV PATH=/bin"],
    )
    client.images.get(MOCK_IMAGE)  # raises if the import did not produce it
    return MOCK_IMAGE, True
