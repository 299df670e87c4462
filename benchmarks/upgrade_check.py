"""`aipair upgrade check` over 50 services against a local registry: concurrent vs one at a time.

Same run, same registry (Debian's docker-registry on 127.0.0.1, started here), a fresh client per
run so nothing is cached. Target (issue 5): concurrent at least 5x faster than one-at-a-time.
Note: on loopback a request costs well under a millisecond of network, so what concurrency can
overlap here is small; against Docker Hub or GHCR (50-200 ms a request) the gap is much wider.

The second table puts the same registry behind a delay proxy (each response held 50 ms, like a
registry across the internet), labelled as such: that is the situation concurrency is for.

    python benchmarks/upgrade_check.py [--services 50] [--runs 5] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.registry import push, start_registry  # noqa: E402  (the tests' real-registry helpers)

from aipair.catalog import parse_catalog  # noqa: E402
from aipair.ops.upgrade.check import run_check  # noqa: E402


def start_delay_proxy(upstream: str, delay: float) -> str:
    """A TCP proxy on 127.0.0.1 that holds each chunk coming back from ``upstream`` for ``delay`` s."""
    import asyncio
    import threading

    host, port = upstream.split(":")
    ready: list[str] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float) -> None:
        try:
            while data := await reader.read(65536):
                if hold:
                    await asyncio.sleep(hold)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(
            pipe(client_reader, up_writer, 0), pipe(up_reader, client_writer, delay), return_exceptions=True
        )

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        ready.append(f"127.0.0.1:{server.sockets[0].getsockname()[1]}")
        await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    while not ready:
        time.sleep(0.01)
    return ready[0]


def measure(catalog_for: Callable[[str], object], address: str, runs: int) -> dict[int, float]:
    timings: dict[int, list[float]] = {1: [], 8: [], 32: []}
    catalog = catalog_for(address)
    for _ in range(runs):
        for concurrency in timings:
            start = time.perf_counter()
            rows = run_check(catalog, concurrency=concurrency)
            timings[concurrency].append(time.perf_counter() - start)
            assert all(row.candidate == "1.1.0" for row in rows), [r.error for r in rows if r.error][:1]
    return {c: statistics.median(v) for c, v in timings.items()}


def report(title: str, medians: dict[int, float]) -> float:
    print(title)
    print(f"{'concurrency':>12}{'seconds':>10}{'speed-up':>10}")
    for concurrency, median in medians.items():
        print(f"{concurrency:>12}{median:>10.3f}{medians[1] / median:>9.1f}x")
    return medians[1] / min(medians.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aipair-upgrade-bench-") as tmp:
        address, process = start_registry(Path(tmp))
        try:
            for index in range(args.services):
                push(address, f"bench/svc-{index}", ["1.0.0", "1.0.1", "1.1.0", "2.0.0"])

            def catalog_for(registry: str) -> object:
                services = {
                    f"svc-{i}": {
                        "layer": "application",
                        "kind": "job",
                        "upgrade": {"track": "minor"},
                        "image": f"{registry}/bench/svc-{i}:1.0.0",
                    }
                    for i in range(args.services)
                }
                return parse_catalog(
                    yaml.safe_dump(
                        {
                            "version": 1,
                            "project": {
                                "name": "bench",
                                "domain": "bench.example.com",
                                "tls": {"acme_email": "o@bench.example.com"},
                            },
                            "services": services,
                        }
                    )
                )

            local = measure(catalog_for, address, args.runs)
            delayed = measure(catalog_for, start_delay_proxy(address, args.latency_ms / 1000), args.runs)
        finally:
            process.terminate()
    head = f"upgrade check of {args.services} services (tags + digest each), median of {args.runs}"
    local_best = report(f"{head}; local registry on loopback", local)
    delayed_best = report(f"{head}; same registry behind a {args.latency_ms:.0f} ms delay proxy", delayed)
    print(
        f"target >= 5x: loopback {'met' if local_best >= 5 else 'NOT met'} ({local_best:.1f}x), "
        f"with {args.latency_ms:.0f} ms latency {'met' if delayed_best >= 5 else 'NOT met'} ({delayed_best:.1f}x)"
    )


if __name__ == "__main__":
    main()
