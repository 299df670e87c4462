"""A real PostgreSQL 15 image for engine tests, made here from Debian's postgresql-15 on this host.

Docker Hub is not reachable from the tests, so the server's own image (the one a real catalog names,
e.g. pgvector/pgvector) cannot be pulled. This image plays it: Debian's binaries and their shared
libraries (what `ldd` names), the static busybox for /bin/sh, imported from a tar as one layer
(the way engines/mockimage.py makes the mock image: no builder, no registry). Tagged by the tar's
content, so it is made once per engine and remade when the host's PostgreSQL changes.

Its entrypoint behaves like the official image's where aipair relies on it: the first start runs
initdb into the data volume with the superuser password from POSTGRES_PASSWORD (scram-sha-256,
`host all all all scram-sha-256`), then postgres listens on all addresses, as uid 999, not root.
pg_dump, pg_restore and psql are on its PATH, so helper containers of this image run them too.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from aipair.engines.mockimage import find_busybox

BIN = Path("/usr/lib/postgresql/15/bin")
LIB = Path("/usr/lib/postgresql/15/lib")
SHARE = Path("/usr/share/postgresql/15")
ZONES = ("UTC", "Etc/UTC", "GMT")
REPOSITORY = "aipair-test/postgres"
UID = 999
PGDATA = "/var/lib/postgresql/data"
ENTRYPOINT = "/usr/local/bin/aipair-postgres"

ENTRYPOINT_SCRIPT = f"""#!/bin/sh
# aipair test PostgreSQL: initdb on the first start (password from POSTGRES_PASSWORD), then postgres.
set -e
PGDATA="${{PGDATA:-{PGDATA}}}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ]; then
    echo "POSTGRES_PASSWORD is empty: set the superuser password to initialise the server" >&2
    exit 1
  fi
  umask 077
  pwfile="$(mktemp)"
  printf '%s\\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U "${{POSTGRES_USER:-postgres}}" --pwfile="$pwfile" --auth-local=trust \\
    --auth-host=scram-sha-256 -E UTF8 --no-locale
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
unset POSTGRES_PASSWORD
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp -c jit=off "$@"
"""


def _files() -> list[Path]:
    """Every file the image takes from the host: PostgreSQL's binaries, modules and data (no JIT, no man
    pages), the shared libraries they load and the loader, the UTC time zone."""
    if not (BIN / "postgres").exists():
        raise RuntimeError("PostgreSQL 15 is missing: apt-get install -y postgresql-15 (scripts/test-deps.sh does it)")
    programs = sorted(path for path in BIN.iterdir() if path.is_file())
    modules = sorted(path for path in LIB.glob("*.so") if not path.name.startswith("llvmjit"))
    data = sorted(path for path in SHARE.rglob("*") if path.is_file() and path.relative_to(SHARE).parts[0] != "man")
    out = subprocess.run(["ldd", *map(str, programs + modules)], capture_output=True, text=True).stdout
    libraries = set()
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > parts.index("=>") + 1 and parts[parts.index("=>") + 1].startswith("/"):
            libraries.add(Path(parts[parts.index("=>") + 1]))
        elif parts and parts[0].startswith("/") and "ld-linux" in parts[0]:
            libraries.add(Path(parts[0]))
    zones = [Path("/usr/share/zoneinfo") / zone for zone in ZONES]
    return programs + modules + data + sorted(libraries) + zones


def rootfs_tar() -> bytes:
    """The image's root file system, deterministic (sorted, mtime 0), so its hash names its content."""
    busybox = find_busybox()
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    buffer = io.BytesIO()
    seen: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(
            name: str,
            *,
            data: bytes | None = None,
            mode: int = 0o755,
            kind: bytes = tarfile.DIRTYPE,
            link: str = "",
            owner: int = 0,
        ) -> None:
            name = name.lstrip("/")
            parent = str(Path(name).parent)
            if parent != "." and parent not in seen:
                add(parent)
            if name in seen:
                return
            seen.add(name)
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.linkname = kind, mode, 0, link
            info.uid = info.gid = owner
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)

        add("tmp", mode=0o1777)
        add("bin/busybox", data=busybox.read_bytes(), kind=tarfile.REGTYPE)
        for applet in sorted(set(applets) - {"busybox"}):
            add(f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox", mode=0o777)
        passwd = f"root:x:0:0:root:/root:/bin/sh\npostgres:x:{UID}:{UID}:PostgreSQL:/var/lib/postgresql:/bin/sh\n"
        add("etc/passwd", data=passwd.encode(), kind=tarfile.REGTYPE, mode=0o644)
        add("etc/group", data=f"root:x:0:\npostgres:x:{UID}:\n".encode(), kind=tarfile.REGTYPE, mode=0o644)
        add("var/lib/postgresql", owner=UID)
        add(PGDATA, mode=0o700, owner=UID)  # a new volume mounted here takes this owner and mode
        for path in _files():
            # Libraries are often links (libz.so.1 -> libz.so.1.2.13): store what the name resolves to.
            add(str(path), data=path.resolve().read_bytes(), kind=tarfile.REGTYPE, mode=path.stat().st_mode & 0o777)
        add(ENTRYPOINT, data=ENTRYPOINT_SCRIPT.encode(), kind=tarfile.REGTYPE)
    return buffer.getvalue()


def ensure_pg_image(client: Any) -> str:
    """The image on the engine (made now unless an image of the same content is there); its tag."""
    from docker.errors import ImageNotFound

    rootfs = rootfs_tar()
    tag = f"15-{hashlib.sha256(rootfs).hexdigest()[:16]}"
    image = f"{REPOSITORY}:{tag}"
    try:
        client.images.get(image)
        return image
    except ImageNotFound:
        pass
    client.api.import_image_from_data(
        rootfs,
        repository=REPOSITORY,
        tag=tag,
        changes=[
            f'ENTRYPOINT ["/bin/sh", "{ENTRYPOINT}"]',
            f"ENV PATH={BIN}:/bin",
            "ENV TZ=UTC",
            f"ENV PGDATA={PGDATA}",
            f"USER {UID}:{UID}",
            "EXPOSE 5432",
        ],
    )
    client.images.get(image)  # raises if the import did not make it
    return image
