"""`aipair upgrade check` over 50 services against a local registry: concurrent vs one at a time.

Same run, same registry (Debian's docker-registry on 127.0.0.1, started here), a fresh client per
run so nothing is cached. Target (issue 5): concurrent at least 5x faster than one-at-a-time.
Note: on loopback a request costs well under a millisecond of network, so what concurrency can
overlap here is small; against Docker Hub or GHCR (50-200 ms a request) the gap is much wider.

    python benchmarks/upgrade_check.py [--services 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_upgrade_check import _start_registry, push  # noqa: E402  (the tests' real-registry helpers)

from aipair.catalog import parse_catalog  # noqa: E402
from aipair.upgrade.check import run_check  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aipair-upgrade-bench-") as tmp:
        address, process = _start_registry(Path(tmp))
        try:
            services = {}
            for index in range(args.services):
                push(address, f"bench/svc-{index}", ["1.0.0", "1.0.1", "1.1.0", "2.0.0"])
                services[f"svc-{index}"] = {"layer": "application", "kind": "job",
                                            "image": f"{address}/bench/svc-{index}:1.0.0", "upgrade": {"track": "minor"}}
            catalog = parse_catalog(yaml.safe_dump({
                "version": 1, "project": {"name": "bench", "domain": "bench.example.com",
                                          "tls": {"acme_email": "o@bench.example.com"}}, "services": services}))
            timings: dict[int, list[float]] = {1: [], 8: [], 32: []}
            for _ in range(args.runs):
                for concurrency in timings:
                    start = time.perf_counter()
                    rows = run_check(catalog, concurrency=concurrency)
                    timings[concurrency].append(time.perf_counter() - start)
                    assert all(row.candidate == "1.1.0" for row in rows)
        finally:
            process.terminate()
    sequential = statistics.median(timings[1])
    print(f"upgrade check of {args.services} services (tags + digest each), median of {args.runs}, local registry")
    print(f"{'concurrency':>12}{'seconds':>10}{'speed-up':>10}")
    for concurrency, values in timings.items():
        median = statistics.median(values)
        print(f"{concurrency:>12}{median:>10.3f}{sequential / median:>9.1f}x")
    best = sequential / min(statistics.median(v) for v in timings.values())
    print(f"target >= 5x: {'met' if best >= 5 else 'NOT met'} ({best:.1f}x)")


if __name__ == "__main__":
    main()
