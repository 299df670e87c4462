"""`aipair catalog verify --images` over a catalog of N images beside pulling the same images with the engine.

Same run, same local registry (Debian's docker-registry on 127.0.0.1, started here), images built here: the
static busybox plus one layer of random bytes each, sizes spread evenly from --min-mb to --max-mb (random bytes
do not compress, so the layers are pushed as plain tar: pull and verify move the same bytes). Measured:
a cold verify (empty cache), a warm verify (the cache answers; only the tags are resolved), and
`docker pull` of every image (4 at a time, as verify reads 4 at a time), then the images are removed.
Targets (issue 15): cold verify no slower than the pull; warm verify under 1 s.

Needs a Docker engine for the pull (DOCKER_HOST or the local socket; `scripts/local-engine.sh` starts one).

    python benchmarks/verify_images.py [--images 30] [--min-mb 50] [--max-mb 500]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.oci import Image, Pusher, file, folder, symlink  # noqa: E402  (the tests' image builder)
from tests.helpers.registry import start_registry  # noqa: E402

from aipair.catalog import parse_catalog  # noqa: E402
from aipair.ops.images import registry_inspector, verify_images  # noqa: E402

MIB = 1024 * 1024
PULLS_AT_ONCE = 4


def build(size: int) -> Image:
    busybox = Path("/bin/busybox").read_bytes()
    base = [folder("bin"), file("bin/busybox", busybox), symlink("bin/sh", "busybox"), symlink("bin/wget", "busybox")]
    return Image(layers=[base, [folder("data"), file("data/blob", os.urandom(size), mode=0o644)]], compression="tar",
                 ports=["8080/tcp"])  # fmt: skip


def catalog_text(address: str, count: int) -> str:
    services = {
        f"svc-{i}": {
            "layer": "application",
            "image": f"{address}/bench/img-{i}:1.0.0",
            "runs_as_root": True,
            "ports": [{"name": "http", "port": 8080}],
            "health": {"type": "http", "port": 8080, "path": "/", "probe": "wget"},
        }
        for i in range(count)
    }
    project = {"name": "bench", "domain": "bench.example.com", "tls": {"acme_email": "ops@bench.example.com"}}
    return yaml.safe_dump({"version": 1, "project": project, "services": services}, sort_keys=False)


def timed_verify(text: str) -> tuple[float, bool]:
    catalog = parse_catalog(text)
    start = time.perf_counter()
    report = verify_images(catalog, registry_inspector())
    return time.perf_counter() - start, report.ok


def pull_all(images: list[str]) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(PULLS_AT_ONCE) as pool:
        for done in pool.map(lambda i: subprocess.run(["docker", "pull", "-q", i], capture_output=True), images):
            if done.returncode != 0:
                raise SystemExit(f"docker pull failed: {done.stderr.decode()[-500:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--min-mb", type=int, default=50)
    parser.add_argument("--max-mb", type=int, default=500)
    args = parser.parse_args()
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise SystemExit("no Docker engine answers (scripts/local-engine.sh starts one): the pull needs it")
    step = (args.max_mb - args.min_mb) / max(1, args.images - 1)
    sizes = [int((args.min_mb + i * step) * MIB) for i in range(args.images)]
    with tempfile.TemporaryDirectory(prefix="aipair-verify-bench-") as tmp:
        address, process = start_registry(Path(tmp))
        try:
            print(f"building and pushing {args.images} images, {sum(sizes) / MIB:.0f} MiB in all …", flush=True)
            with Pusher(address) as pusher:
                for index, size in enumerate(sizes):
                    pusher.image(f"bench/img-{index}", "1.0.0", build(size))
            text = catalog_text(address, args.images)
            os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # an empty cache: the cold run reads every layer
            cold, ok = timed_verify(text)
            warm, ok_again = timed_verify(text)
            names = [f"{address}/bench/img-{i}:1.0.0" for i in range(args.images)]
            pull = pull_all(names)
            subprocess.run(["docker", "rmi", "-f", *names], capture_output=True)
        finally:
            process.terminate()
            process.wait(timeout=10)
    print(f"\n{args.images} images, {sum(sizes) / MIB:.0f} MiB of layers, one run")
    print(f"{'what':<34}{'seconds':>10}{'vs pull':>10}")
    print(f"{'docker pull (reference)':<34}{pull:>10.2f}{1.0:>9.2f}x")
    print(f"{'catalog verify --images, cold':<34}{cold:>10.2f}{cold / pull:>9.2f}x")
    print(f"{'catalog verify --images, cached':<34}{warm:>10.2f}{warm / pull:>9.2f}x")
    print(f"verdicts ok: {ok and ok_again}")
    print(
        f"targets: cold <= pull {'met' if cold <= pull else 'NOT met'}; cached < 1 s {'met' if warm < 1 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
